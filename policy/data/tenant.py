"""Tenant: the organisation's file — users, licences, admins, credits — as typed data.

Loaded from YAML/JSON and validated against ``schemas/tenant.schema.json``;
:meth:`Tenant.from_file` keeps the document so later errors (a licence the
policy does not know) can still name ``file:line: users[2].licenses[0]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from policy.support.errors import Location, SchemaError

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["Admin", "Credits", "ServiceNumber", "Tenant", "User"]

FieldPath = tuple[str | int, ...]


@record(frozen=True, slots=True)
class User:
    upn: str
    usage_location: str
    licenses: tuple[str, ...]
    display_name: str | None = None
    object_id: str | None = None
    index: int = 0  # position in the file's users list (for messages)


@record(frozen=True, slots=True)
class Admin:
    email: str
    roles: tuple[str, ...]
    name: str | None = None


@record(frozen=True, slots=True)
class Credits:
    balance: Decimal
    funding: str  # one_time | auto_recharge
    recharge_below: Decimal | None
    recharge_amount: Decimal | None
    payment: str  # ok | expired_card | declined

    @property
    def auto_recharge(self) -> bool:
        return self.funding == "auto_recharge"


@record(frozen=True, slots=True)
class ServiceNumber:
    number: str
    type: str
    used_by: str | None


class Tenant:
    """An organisation: never changed by evaluation (the engine works on a copy of its state)."""

    __slots__ = (
        "__weakref__",
        "admins",
        "billing_country",
        "country",
        "credits",
        "currency",
        "line_of",
        "name",
        "service_numbers",
        "source",
        "usage",
        "users",
    )

    def __init__(
        self,
        *,
        name: str,
        country: str,
        billing_country: str,
        currency: str,
        credits: Credits | None,
        admins: tuple[Admin, ...],
        users: Mapping[str, User],
        service_numbers: Mapping[str, ServiceNumber],
        usage: Mapping[str, int],
        source: str = "<tenant>",
        line_of: Callable[[FieldPath], int] | None = None,
    ) -> None:
        self.name = name
        self.country = country
        self.billing_country = billing_country
        self.currency = currency
        self.credits = credits
        self.admins = admins
        self.users = dict(users)
        self.service_numbers = dict(service_numbers)
        self.usage = dict(usage)
        self.source = source
        self.line_of: Callable[[FieldPath], int] = line_of or (lambda path: 0)

    # -- construction
    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Tenant:
        from policy.data.documents import load_document  # YAML is imported when a file is read

        document = load_document(path, schema="tenant")
        return cls._build(document.data, document.filename, document.line_of)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<tenant>",
        line_of: Callable[[FieldPath], int] | None = None,
    ) -> Tenant:
        """A tenant from plain data; ``source`` and ``line_of`` place its errors (a tenant
        embedded in another file, e.g. a policy test)."""
        from policy.data.validation import validate  # jsonschema: only for data that needs it

        findings = validate(dict(data), "tenant", filename=source, line_of=line_of or (lambda p: 0))
        if findings:
            raise SchemaError.from_finding(findings[0], tuple(findings))
        return cls._build(dict(data), source, line_of)

    @classmethod
    def _build(
        cls,
        data: dict[str, Any],
        source: str,
        line_of: Callable[[FieldPath], int] | None,
    ) -> Tenant:
        credits = None
        raw = data.get("credits")
        if raw is not None:
            credits = Credits(
                balance=Decimal(raw["balance"]),
                funding=raw.get("funding", "one_time"),
                recharge_below=_money(raw.get("recharge_below")),
                recharge_amount=_money(raw.get("recharge_amount")),
                payment=raw.get("payment", "ok"),
            )
        users: dict[str, User] = {}
        for index, u in enumerate(data.get("users") or []):
            upn = str(u["upn"]).lower()
            if upn in users:
                line = line_of(("users", index, "upn")) if line_of else 0
                raise SchemaError(
                    f"user '{u['upn']}' is listed twice",
                    location=Location(source, line),
                    path=f"users[{index}].upn",
                )
            users[upn] = User(
                upn=upn,
                usage_location=u.get("usage_location") or data["country"],
                licenses=tuple(u.get("licenses") or ()),
                display_name=u.get("display_name"),
                object_id=u.get("object_id"),
                index=index,
            )
        admins = tuple(
            Admin(a["email"], tuple(a.get("roles") or ()), a.get("name"))
            for a in data.get("admins") or []
        )
        numbers = {
            n["number"]: ServiceNumber(n["number"], n.get("type", "toll"), n.get("used_by"))
            for n in data.get("service_numbers") or []
        }
        return cls(
            name=data["tenant"],
            country=data["country"],
            billing_country=data.get("billing_country", data["country"]),
            currency=data["currency"],
            credits=credits,
            admins=admins,
            users=users,
            service_numbers=numbers,
            usage={str(k): int(v) for k, v in (data.get("usage") or {}).items()},
            source=source,
            line_of=line_of,
        )

    def with_credits(self, credits: Credits | None) -> Tenant:
        """The same organisation with other credits settings (a what-if; self is unchanged)."""
        return Tenant(
            name=self.name,
            country=self.country,
            billing_country=self.billing_country,
            currency=self.currency,
            credits=credits,
            admins=self.admins,
            users=self.users,
            service_numbers=self.service_numbers,
            usage=self.usage,
            source=self.source,
            line_of=self.line_of,
        )

    def location(self, path: FieldPath) -> Location:
        return Location(self.source, self.line_of(path))

    def user(self, upn: str | None) -> User | None:
        return self.users.get(upn.lower()) if upn else None

    def __repr__(self) -> str:
        return f"Tenant({self.name!r}, users={len(self.users)}, currency={self.currency!r})"


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
