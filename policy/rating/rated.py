"""Rated calls read back: the usage-report CSV ``ccpolicy rate`` writes, or its JSON Lines.

:func:`read_rated` streams :class:`Rated` records for the reports. A CSV carries
everything (times, users, destinations); JSON Lines decisions carry no call details, so
their ``start``, ``user`` and ``country`` are ``None`` (reports then skip per-day and
per-month breakdowns). A real PSTN usage report without ccpolicy's columns is read too:
every row counts as permitted, its payer taken from the Capability code.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from policy.language.source import display_name
from policy.support.errors import InputError, Location, SchemaError

__all__ = ["Rated", "read_rated"]

_PAYER_BY_CAPABILITY = {
    "MCOPSTNPP": "credits",
    "MCOPSTN1": "plan",
    "MCOPSTN2": "plan",
    "MCOPSTN5": "plan",
    "MCOPSTN6": "plan",
    "MCOMEETADD": "conferencing",
    "MCOMEETADD_DIALOUT_US": "conferencing",
    "FREECALL": "free",
    "MCOEV": "free",
}


@dataclass(frozen=True, slots=True)
class Rated:
    """One rated call, as the reports need it."""

    call: str
    permitted: bool
    paid_by: str
    charge: Decimal
    currency: str
    start: datetime | None = None
    user: str | None = None
    country: str | None = None
    scenario: str | None = None
    pool: str | None = None
    denial: str | None = None
    billable_seconds: int | None = None
    balance_after: Decimal | None = None
    utc_offset: timedelta | None = None  # the offset the call was placed in, when known

    @property
    def month(self) -> str | None:
        if self.start is None:
            return None
        utc = self.start.astimezone(timezone.utc)
        return f"{utc.year:04d}-{utc.month:02d}"

    @property
    def day(self) -> str | None:
        """The call's local date: its UTC start moved by the offset it was placed in
        (``utc_offset``, written by ``ccpolicy rate``); the UTC date when unknown (a PSTN
        usage report from elsewhere carries UTC times only)."""
        if self.start is None:
            return None
        utc = self.start.astimezone(timezone.utc)
        if self.utc_offset is not None:
            utc = utc + self.utc_offset
        return utc.date().isoformat()


def read_rated(path: str | os.PathLike[str]) -> Iterator[Rated]:
    """Stream the rated calls of ``path`` (``.csv`` or ``.jsonl``)."""
    p = Path(path)
    source = display_name(p)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise InputError(
            "rated calls are read from .csv (the usage report) or .jsonl (decisions)",
            location=Location(source),
        )
    try:
        handle = open(p, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", location=Location(source)) from None
    with handle:
        if suffix == ".csv":
            yield from _csv(csv.DictReader(handle), source)
        else:
            for line, text in enumerate(handle, 1):
                if text.strip():
                    yield _decision(text, source, line)


def _money(text: str | None, source: str, line: int, field: str) -> Decimal | None:
    if text is None or text == "":
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        raise SchemaError(
            f"'{text}' is not an amount", location=Location(source, line), path=field
        ) from None


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _csv(reader: csv.DictReader[str], source: str) -> Iterator[Rated]:
    fields = reader.fieldnames or []
    if "Call ID" not in fields:
        raise SchemaError(
            "not a usage report: no 'Call ID' column", location=Location(source, 1), path="header"
        )
    ours = "permitted" in fields
    for row in reader:
        line = reader.line_num
        try:
            start_text = row.get("Start Time") or ""
            start = None
            if start_text:
                start = datetime.fromisoformat(start_text)
                if start.tzinfo is None:
                    start = start.replace(tzinfo=timezone.utc)
            charge = _money(row.get("Charge"), source, line, "Charge")
            if charge is None:
                charge = Decimal(0)
            if ours:
                permitted = row["permitted"] == "true"
                paid_by = row.get("paid_by") or "none"
                billable = _int(row.get("billable_seconds"))
            else:
                permitted = True
                paid_by = _PAYER_BY_CAPABILITY.get(row.get("Capability") or "", "credits")
                billable = _int(row.get("Duration Seconds"))
        except ValueError as exc:
            raise SchemaError(str(exc), location=Location(source, line)) from None
        yield Rated(
            call=row.get("Call ID") or row.get("UsageId") or "",
            permitted=permitted,
            paid_by=paid_by,
            charge=charge,
            currency=row.get("Currency") or "",
            start=start,
            user=row.get("UPN") or None,
            country=row.get("Destination Dialed") or None,
            scenario=row.get("scenario") or None,
            pool=row.get("pool") or None,
            denial=row.get("denial") or None,
            billable_seconds=billable,
            balance_after=_money(row.get("balance_after"), source, line, "balance_after"),
            utc_offset=_offset(row.get("utc_offset"), source, line),
        )


_OFFSET = re.compile(r"([+-])([01][0-9]|2[0-3]):([0-5][0-9])")


def _offset(text: str | None, source: str, line: int) -> timedelta | None:
    if not text:
        return None
    match = _OFFSET.fullmatch(text)
    if match is None:
        raise SchemaError(
            f"'{text}' is not a UTC offset such as +11:00",
            location=Location(source, line),
            path="utc_offset",
        )
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _decision(text: str, source: str, line: int) -> Rated:
    try:
        data = json.loads(text)
        cost = data.get("cost") or {}
        return Rated(
            call=str(data["call"]),
            permitted=bool(data["permitted"]),
            paid_by=str(data.get("paid_by") or "none"),
            charge=Decimal(cost.get("amount", "0")),
            currency=str(cost.get("currency", "")),
            scenario=data.get("scenario"),
            pool=data.get("pool"),
            denial=data.get("denial"),
            billable_seconds=data.get("billable_seconds"),
            balance_after=(
                Decimal(data["balance_after"]) if data.get("balance_after") is not None else None
            ),
        )
    except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as exc:
        raise SchemaError(f"not a decision: {exc}", location=Location(source, line)) from None
