"""Binding: a tenant checked against a compiled policy, with everything per-tenant precomputed.

Users get their calling plan and licence set, pools get their sizes (minutes per user
× users with that plan and usage location; per licence for conferencing pools),
events get their recipients. A licence the policy does not declare is bad input
(reference rule R17) reported at the tenant file's line.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from policy.data.tenant import Tenant
from policy.engine.compile import CompiledPolicy, PlanPoolSpec
from policy.support.errors import Finding, SchemaError
from policy.support.suggest import did_you_mean

if TYPE_CHECKING:  # checked as the dataclass it behaves like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["Binding", "BoundUser", "PoolRef", "State", "bind", "tenant_findings"]


@record(frozen=True, slots=True)
class PoolRef:
    key: str  # e.g. domestic_calling_plan:US:domestic, audio_conferencing:zone_a
    size: int  # minutes
    warn: tuple[int, ...]
    paid_by: str  # plan | conferencing


@record(frozen=True, slots=True)
class BoundUser:
    upn: str
    location: str
    licences: frozenset[str]
    plan: str | None
    credits_licensed: bool
    calling_code: int
    pools: dict[str, PoolRef]  # pool name → this user's pool


class State:
    """The mutable part of a tenant during a run: balance, recharge episode, pool usage.

    The tenant's ``usage`` belongs to the month of the first call of a run (reference
    rule R4); any other month starts from fresh pools. Reading never changes the state.
    """

    __slots__ = ("balance", "failing", "month", "months", "usage")

    def __init__(self, balance: Decimal | None, usage: dict[str, int]) -> None:
        self.balance = balance
        self.failing = False  # inside a failed-recharge episode
        self.month: str | None = None  # the month `usage` belongs to, fixed by the first call
        self.usage = dict(usage)
        self.months: dict[str, dict[str, int]] = {}

    def begin(self, month: str) -> None:
        """Fix the month the tenant's usage belongs to (the first call's), once."""
        if self.month is None:
            self.month = month

    def used(self, key: str, month: str) -> int:
        if self.month is None or month == self.month:
            return self.usage.get(key, 0)
        bucket = self.months.get(month)
        return bucket.get(key, 0) if bucket else 0

    def add(self, key: str, month: str, minutes: int) -> None:
        self.begin(month)
        bucket = self.usage if month == self.month else self.months.setdefault(month, {})
        bucket[key] = bucket.get(key, 0) + minutes

    def copy(self) -> State:
        clone = State(self.balance, self.usage)
        clone.failing = self.failing
        clone.month = self.month
        clone.months = {m: dict(b) for m, b in self.months.items()}
        return clone


class Binding:
    """A tenant bound to a policy: users resolved, pools sized, recipients resolved."""

    def __init__(self, policy: CompiledPolicy, tenant: Tenant) -> None:
        import phonenumbers  # a binding is made once per tenant; loading needs none

        findings = [f for f in tenant_findings(policy, tenant) if f.is_error]
        if findings:
            raise SchemaError.from_finding(findings[0], tuple(findings))
        self.policy = policy
        self.tenant = tenant
        self.service_numbers = {n: s.type for n, s in tenant.service_numbers.items()}
        self.pool_sizes: dict[str, int] = {}
        self.users: dict[str, BoundUser] = {}
        credits = policy.credits_licence
        plans = {u.upn: policy.calling_plan(u.licenses) for u in tenant.users.values()}
        # pool sizes: minutes per user × users whose calling plan it is, by pool key
        for (plan_name, _pool), spec in policy.plan_pools.items():
            for user in tenant.users.values():
                if plans[user.upn] == plan_name:
                    key = self._plan_pool_key(spec, user.upn, user.usage_location)
                    minutes = spec.minutes_for(user.usage_location)
                    self.pool_sizes[key] = self.pool_sizes.get(key, 0) + minutes
        for shared in policy.shared_pools.values():
            holders = sum(1 for u in tenant.users.values() if shared.licence in u.licenses)
            self.pool_sizes[shared.key] = shared.minutes * holders
        shared_refs = {
            name: PoolRef(spec.key, self.pool_sizes[spec.key], spec.warn, "conferencing")
            for name, spec in policy.shared_pools.items()
        }
        for user in tenant.users.values():
            plan = plans[user.upn]
            pools = dict(shared_refs)
            for (plan_name, pool_name), spec in policy.plan_pools.items():
                if plan_name == plan:
                    key = self._plan_pool_key(spec, user.upn, user.usage_location)
                    pools[pool_name] = PoolRef(key, self.pool_sizes[key], spec.warn, "plan")
            self.users[user.upn] = BoundUser(
                upn=user.upn,
                location=user.usage_location,
                licences=frozenset(user.licenses),
                plan=plan,
                credits_licensed=credits is not None and credits in user.licenses,
                calling_code=phonenumbers.country_code_for_region(user.usage_location),
                pools=pools,
            )
        self.shared_pools = shared_refs
        self.tenant_calling_code = phonenumbers.country_code_for_region(tenant.country)
        # who is told
        self.recipients: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        for event, roles in policy.routes.items():
            held = tuple(r for r in roles if any(r in a.roles for a in tenant.admins))
            emails: list[str] = []
            for admin in tenant.admins:
                if any(r in admin.roles for r in roles) and admin.email not in emails:
                    emails.append(admin.email)
            self.recipients[event] = (held, tuple(emails))
        credits_state = tenant.credits
        self.initial = State(credits_state.balance if credits_state else None, tenant.usage)
        # The auto-recharge trigger (None: no auto-recharge), read on every credits call.
        self.trigger = (
            credits_state.recharge_below
            if credits_state is not None and credits_state.auto_recharge
            else None
        )

    def _plan_pool_key(self, spec: PlanPoolSpec, upn: str, location: str) -> str:
        if spec.per_user:
            return f"{spec.plan}:{upn}:{spec.name}"
        country = self.policy.pool_country.get(location, location)
        return f"{spec.plan}:{country}:{spec.name}"

    def pool_keys(self) -> Iterable[str]:
        return self.pool_sizes.keys()


def tenant_findings(policy: CompiledPolicy, tenant: Tenant) -> list[Finding]:
    """Errors (undeclared licences) and warnings (roles nobody routes) of a tenant file."""
    findings: list[Finding] = []
    known = sorted(policy.licences)
    for user in tenant.users.values():
        for j, licence in enumerate(user.licenses):
            if licence not in policy.licences:
                path = ("users", user.index, "licenses", j)
                findings.append(
                    Finding(
                        "error",
                        f"'{licence}' is not one of {known}",
                        location=tenant.location(path),
                        path=f"users[{user.index}].licenses[{j}]",
                        hint=did_you_mean(licence, known),
                        code="unknown-licence",
                    )
                )
    routed = {r for roles in policy.routes.values() for r in roles}
    declared = set(policy.catalog.roles)
    for i, admin in enumerate(tenant.admins):
        for j, role in enumerate(admin.roles):
            if role not in routed:
                near = did_you_mean(role, declared)
                findings.append(
                    Finding(
                        "warning",
                        f"role '{role}' is not notified by the policy",
                        location=tenant.location(("admins", i, "roles", j)),
                        path=f"admins[{i}].roles[{j}]",
                        hint=near,
                        code="unrouted-role",
                    )
                )
    return findings


def bind(policy: CompiledPolicy, tenant: Tenant) -> Binding:
    return Binding(policy, tenant)
