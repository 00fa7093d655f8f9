"""The policy AST: frozen, slotted records (:mod:`policy.support.records`), each with its span.

Built by :mod:`policy.language.parser` (the only module that knows grammar rule names),
read by :mod:`policy.language.check` and :mod:`policy.engine.compile`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import (
        record,  # cheaper to define: policy.load() imports all of these
    )

__all__ = [
    "AllOf",
    "Allowance",
    "AnyOf",
    "Area",
    "BalancePositive",
    "CallerIn",
    "CallerSharesCode",
    "Condition",
    "CreditsSetUp",
    "Denial",
    "DestinationIn",
    "DestinationIs",
    "FromContext",
    "Guard",
    "HasCallingPlan",
    "HasLicence",
    "IsDirection",
    "Licence",
    "Module",
    "Name",
    "Not",
    "Notify",
    "Outcome",
    "PayCredits",
    "PayDeny",
    "PayFree",
    "PayIncluded",
    "PayPool",
    "Plan",
    "PlanIs",
    "PlanPool",
    "PoolHasMinutes",
    "Pooling",
    "Region",
    "Role",
    "Scenario",
    "SharedPool",
    "Span",
    "Statement",
    "ToIs",
    "Zone",
    "scenario_conditions",
    "walk",
]


@record(frozen=True, slots=True)
class Span:
    file: str
    line: int
    column: int


@record(frozen=True, slots=True)
class Name:
    """An identifier (or a country code) as written, with its place."""

    value: str
    span: Span


# ---- declarations -----------------------------------------------------------


@record(frozen=True, slots=True)
class Zone:
    name: Name
    title: str | None
    countries: tuple[Name, ...]
    span: Span


@record(frozen=True, slots=True)
class Area:
    """A domestic area: its countries are domestic to one another.

    ``pooling`` lists countries whose users share another country's pools
    (``, PR pooled with US``)."""

    name: Name
    title: str | None
    countries: tuple[Name, ...]
    pooling: tuple[Pooling, ...]
    span: Span


@record(frozen=True, slots=True)
class Pooling:
    countries: tuple[Name, ...]
    target: Name
    span: Span


@record(frozen=True, slots=True)
class Licence:
    name: Name
    title: str | None
    credits: bool  # the licence that lets a user draw on the credits balance
    span: Span


@record(frozen=True, slots=True)
class Role:
    name: Name
    title: str | None
    span: Span


@record(frozen=True, slots=True)
class Denial:
    name: Name
    sentence: str
    span: Span


@record(frozen=True, slots=True)
class Allowance:
    """``N minutes per user [in REGION]``; ``region is None`` means elsewhere / everywhere."""

    minutes: int
    region: Name | None
    elsewhere: bool
    span: Span


@record(frozen=True, slots=True)
class PlanPool:
    name: Name
    allowances: tuple[Allowance, ...]
    warn: tuple[int, ...]
    per_user: bool  # "not pooled": each user has their own minutes
    span: Span


@record(frozen=True, slots=True)
class Plan:
    name: Name
    title: str | None
    pools: tuple[PlanPool, ...]
    span: Span


@record(frozen=True, slots=True)
class SharedPool:
    """A tenant-wide pool sized per assigned licence (Audio Conferencing dial-out)."""

    name: Name
    title: str | None
    minutes: int
    licence: Name
    warn: tuple[int, ...]
    span: Span


# ---- conditions -------------------------------------------------------------


@record(frozen=True, slots=True)
class Region:
    """A zone/area name, or a literal list of country codes."""

    name: Name | None
    countries: tuple[Name, ...]
    span: Span


@record(frozen=True, slots=True)
class AllOf:
    items: tuple[Condition, ...]
    span: Span


@record(frozen=True, slots=True)
class AnyOf:
    items: tuple[Condition, ...]
    span: Span


@record(frozen=True, slots=True)
class Not:
    item: Condition
    span: Span


@record(frozen=True, slots=True)
class IsDirection:
    direction: str  # inbound | outbound
    span: Span


@record(frozen=True, slots=True)
class FromContext:
    context: Name
    span: Span


@record(frozen=True, slots=True)
class ToIs:
    """``to is toll_free`` — the number class of the number dialled."""

    number_class: Name
    span: Span


@record(frozen=True, slots=True)
class DestinationIs:
    """``destination is domestic | international | non_geographic``."""

    what: Name
    span: Span


@record(frozen=True, slots=True)
class DestinationIn:
    region: Region
    span: Span


@record(frozen=True, slots=True)
class CallerIn:
    region: Region
    span: Span


@record(frozen=True, slots=True)
class CallerSharesCode:
    span: Span


@record(frozen=True, slots=True)
class HasLicence:
    subject: str  # user | organizer
    licence: Name
    span: Span


@record(frozen=True, slots=True)
class HasCallingPlan:
    subject: str
    span: Span


@record(frozen=True, slots=True)
class PlanIs:
    subject: str
    plan: Name
    span: Span


@record(frozen=True, slots=True)
class CreditsSetUp:
    span: Span


@record(frozen=True, slots=True)
class BalancePositive:
    span: Span


@record(frozen=True, slots=True)
class PoolHasMinutes:
    pool: Name
    span: Span


Condition = (
    AllOf
    | AnyOf
    | Not
    | IsDirection
    | FromContext
    | ToIs
    | DestinationIs
    | DestinationIn
    | CallerIn
    | CallerSharesCode
    | HasLicence
    | HasCallingPlan
    | PlanIs
    | CreditsSetUp
    | BalancePositive
    | PoolHasMinutes
)


# ---- scenarios ----------------------------------------------------------------


@record(frozen=True, slots=True)
class Guard:
    """``deny CODE unless COND`` (``unless=True``) or ``deny CODE if COND``."""

    denial: Name
    condition: Condition
    unless: bool
    span: Span


@record(frozen=True, slots=True)
class PayFree:
    span: Span


@record(frozen=True, slots=True)
class PayIncluded:
    """``then conferencing`` / ``then plan``: included in a subscription, not pooled."""

    paid_by: str  # conferencing | plan
    span: Span


@record(frozen=True, slots=True)
class PayPool:
    pool: Name
    spill: str | None  # payer of the minutes beyond the pool: user | organizer | tenant
    span: Span


@record(frozen=True, slots=True)
class PayCredits:
    payer: str  # user | organizer | tenant
    span: Span


@record(frozen=True, slots=True)
class PayDeny:
    denial: Name
    span: Span


Outcome = PayFree | PayIncluded | PayPool | PayCredits | PayDeny


@record(frozen=True, slots=True)
class Scenario:
    name: Name
    sentence: str
    condition: Condition
    guards: tuple[Guard, ...]
    outcome: Outcome
    span: Span


def walk(cond: Condition) -> Iterator[Condition]:
    """Every condition node of ``cond``, itself first, depth first."""
    yield cond
    if isinstance(cond, AllOf | AnyOf):
        for item in cond.items:
            yield from walk(item)
    elif isinstance(cond, Not):
        yield from walk(cond.item)


def scenario_conditions(scenarios: Iterable[Scenario]) -> Iterator[Condition]:
    """Every condition node of the scenarios' ``when`` and guards."""
    for scenario in scenarios:
        yield from walk(scenario.condition)
        for guard in scenario.guards:
            yield from walk(guard.condition)


@record(frozen=True, slots=True)
class Notify:
    events: tuple[Name, ...]
    roles: tuple[Name, ...]
    span: Span


@record(frozen=True, slots=True)
class Capability:
    """``capability "CODE" for TARGET, …``: the usage report's Capability code of the
    calls paid the way each target says (a plan, a conferencing pool, or a word of
    :data:`~policy.language.vocabulary.CAPABILITY_TARGETS`)."""

    code: str
    targets: tuple[Name, ...]
    span: Span


Statement = (
    Zone | Area | Licence | Role | Denial | Plan | SharedPool | Scenario | Notify | Capability
)


@record(frozen=True, slots=True)
class Module:
    """One parsed ``.ccp`` file."""

    file: str
    statements: tuple[Statement, ...]
    lines: tuple[str, ...]  # the source, for error carets
