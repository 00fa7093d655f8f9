"""Compile: checked AST → closures and lookup tables.

Each condition becomes a Python closure over :class:`Facts`; each scenario keeps its
span so decisions can name ``file:line``. Plans become minute tables, notification
routing a dict from event to roles. Nothing here knows any provider: it only
translates what the rules declare.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from policy.data.numbers import NON_GEOGRAPHIC
from policy.engine.facts import Facts, Test
from policy.engine.index import ScenarioIndex
from policy.language import ast
from policy.language.catalog import Catalog
from policy.language.vocabulary import CREDIT_EVENTS, EVENTS

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = [
    "CompiledPolicy",
    "CompiledScenario",
    "GuardRule",
    "Part",
    "PlanPoolSpec",
    "SharedPoolSpec",
    "compile_policy",
]


@record(frozen=True, slots=True)
class GuardRule:
    denial: str
    test: Test
    unless: bool
    span: ast.Span
    label: str

    def denies(self, facts: Facts) -> bool:
        return self.test(facts) != self.unless


@record(frozen=True, slots=True)
class Part:
    """One top-level "and" part of a scenario's condition: its node and compiled test."""

    node: ast.Condition
    test: Test

    @property
    def label(self) -> str:
        return describe(self.node)  # printed on demand: loading a policy never formats


@record(frozen=True, slots=True)
class CompiledScenario:
    index: int
    name: str
    sentence: str
    span: ast.Span
    test: Test
    guards: tuple[GuardRule, ...]
    outcome: ast.Outcome
    node: ast.Scenario
    parts: tuple[Part, ...] = ()  # the top-level "and" parts, for explanations

    def first_failure(self, facts: Facts) -> str | None:
        """The first part of the condition that does not hold (for traces), if any."""
        for part in self.parts:
            if not part.test(facts):
                return f"failed: {part.label}"
        return None


@record(frozen=True, slots=True)
class PlanPoolSpec:
    plan: str
    name: str
    by_country: dict[str, int]  # usage country → minutes per user
    default: int
    per_user: bool
    warn: tuple[int, ...]

    def minutes_for(self, country: str) -> int:
        return self.by_country.get(country, self.default)


@record(frozen=True, slots=True)
class SharedPoolSpec:
    name: str
    licence: str
    minutes: int
    warn: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{self.licence}:{self.name}"


@record(frozen=True, slots=True)
class CompiledPolicy:
    sources: tuple[str, ...]
    catalog: Catalog
    scenarios: tuple[CompiledScenario, ...]
    plans: tuple[str, ...]  # in order of precedence
    plan_pools: dict[tuple[str, str], PlanPoolSpec]  # (plan, pool name) → spec
    shared_pools: dict[str, SharedPoolSpec]
    credits_licence: str | None
    licences: frozenset[str]
    domestic: dict[str, frozenset[str]]  # country → the countries domestic to it
    pool_country: dict[str, str]  # usage country → the country its pools are keyed by
    routes: dict[str, tuple[str, ...]]  # event → roles, in declaration order
    uses_state: bool  # some condition tests credits/balance/pool state
    index: ScenarioIndex  # the scenarios that may match a call, without trying them all

    def denial_sentence(self, code: str) -> str:
        return self.catalog.sentence_of(code)

    def calling_plan(self, licences: Sequence[str] | frozenset[str]) -> str | None:
        held = set(licences)
        for plan in self.plans:
            if plan in held:
                return plan
        return None

    def is_domestic(self, location: str, destination: str) -> bool:
        if location == destination:
            return True
        group = self.domestic.get(location)
        return group is not None and destination in group


# ---- conditions ----------------------------------------------------------------------


def _compile_condition(cond: ast.Condition, catalog: Catalog) -> Test:
    if isinstance(cond, ast.AllOf):
        tests = tuple(_compile_condition(c, catalog) for c in cond.items)

        return lambda f: all(t(f) for t in tests)
    if isinstance(cond, ast.AnyOf):
        tests = tuple(_compile_condition(c, catalog) for c in cond.items)

        return lambda f: any(t(f) for t in tests)
    if isinstance(cond, ast.Not):
        inner = _compile_condition(cond.item, catalog)
        return lambda f: not inner(f)
    if isinstance(cond, ast.IsDirection):
        direction = cond.direction
        return lambda f: f.direction == direction
    if isinstance(cond, ast.FromContext):
        context = cond.context.value
        return lambda f: f.context == context
    if isinstance(cond, ast.ToIs):
        return _number_class_test(cond.number_class.value)
    if isinstance(cond, ast.DestinationIs):
        kind = cond.what.value
        if kind == "international":  # non-geographic numbers (+800, +882…) are international
            return lambda f: f.dest_kind != "domestic"
        return lambda f: f.dest_kind == kind
    if isinstance(cond, ast.DestinationIn):
        countries = catalog.region_countries(cond.region)
        return lambda f: f.number.country in countries
    if isinstance(cond, ast.CallerIn):
        countries = catalog.region_countries(cond.region)
        return lambda f: f.origin_country in countries
    if isinstance(cond, ast.CallerSharesCode):
        return lambda f: f.shares_code
    if isinstance(cond, ast.HasLicence):
        licence = cond.licence.value
        return lambda f: licence in f.licences
    if isinstance(cond, ast.HasCallingPlan):
        return lambda f: f.plan is not None
    if isinstance(cond, ast.PlanIs):
        plan = cond.plan.value
        return lambda f: f.plan == plan
    if isinstance(cond, ast.CreditsSetUp):
        return lambda f: f.credits_set_up
    if isinstance(cond, ast.BalancePositive):
        return lambda f: f.balance_positive
    if isinstance(cond, ast.PoolHasMinutes):
        pool = cond.pool.value
        return lambda f: pool in f.pools_left
    raise TypeError(f"unknown condition node {type(cond).__name__}")  # pragma: no cover


_TYPE_GROUPS = {
    # A fixed_line_or_mobile number (as libphonenumber says of most NANP numbers) is
    # both: it satisfies "to is fixed_line" and "to is mobile".
    "fixed_line": frozenset({"fixed_line", "fixed_line_or_mobile"}),
    "mobile": frozenset({"mobile", "fixed_line_or_mobile"}),
}


def _number_class_test(name: str) -> Test:
    if name == "emergency":
        return lambda f: f.number.emergency
    if name == "short_code":
        return lambda f: f.number.short_code and not f.number.emergency
    if name == "service_number":
        return lambda f: f.service_number
    types = _TYPE_GROUPS.get(name, frozenset({name}))
    return lambda f: f.number.number_type in types


def _whole(cond: ast.Condition, parts: tuple[Part, ...]) -> Test:
    """The condition's test, built from its already compiled top-level parts."""
    if not isinstance(cond, ast.AllOf):
        return parts[0].test
    tests = tuple(part.test for part in parts)
    return lambda f: all(t(f) for t in tests)


def _parts(cond: ast.Condition, catalog: Catalog) -> tuple[Part, ...]:
    items = cond.items if isinstance(cond, ast.AllOf) else (cond,)
    return tuple(Part(item, _compile_condition(item, catalog)) for item in items)


def uses_state(cond: ast.Condition) -> bool:
    if isinstance(cond, ast.AllOf | ast.AnyOf):
        return any(uses_state(c) for c in cond.items)
    if isinstance(cond, ast.Not):
        return uses_state(cond.item)
    return isinstance(cond, ast.CreditsSetUp | ast.BalancePositive | ast.PoolHasMinutes)


def describe(cond: ast.Condition) -> str:
    """The condition as policy text (for traces and explanations), as ``ccpolicy fmt``
    prints it."""
    from policy.language.format import condition_text

    return condition_text(cond)


# ---- the policy ---------------------------------------------------------------------------


def compile_policy(catalog: Catalog) -> CompiledPolicy:
    """Translate a checked catalogue (no error findings) into the evaluator's tables."""
    scenarios: list[CompiledScenario] = []
    for index, node in enumerate(catalog.scenarios):
        parts = _parts(node.condition, catalog)
        guards = tuple(
            GuardRule(
                g.denial.value,
                _compile_condition(g.condition, catalog),
                g.unless,
                g.span,
                f"deny {g.denial.value} {'unless' if g.unless else 'if'} {describe(g.condition)}",
            )
            for g in node.guards
        )
        scenarios.append(
            CompiledScenario(
                index,
                node.name.value,
                node.sentence,
                node.span,
                _whole(node.condition, parts),
                guards,
                node.outcome,
                node,
                parts,
            )
        )

    domestic: dict[str, frozenset[str]] = {}
    pool_country: dict[str, str] = {}
    for area in catalog.areas.values():
        members = frozenset(c.value for c in area.countries)
        for country in members:
            domestic[country] = members
        for pooling in area.pooling:
            for code in pooling.countries:
                pool_country[code.value] = pooling.target.value

    plan_pools: dict[tuple[str, str], PlanPoolSpec] = {}
    for plan in catalog.plans.values():
        for pool in plan.pools:
            by_country: dict[str, int] = {}
            default = 0
            for allowance in pool.allowances:
                if allowance.region is None:
                    default = allowance.minutes
                    continue
                decl = catalog.regions[allowance.region.value]
                for code in decl.countries:
                    by_country.setdefault(code.value, allowance.minutes)
            plan_pools[(plan.name.value, pool.name.value)] = PlanPoolSpec(
                plan.name.value, pool.name.value, by_country, default, pool.per_user, pool.warn
            )

    shared = {
        name: SharedPoolSpec(name, p.licence.value, p.minutes, p.warn)
        for name, p in catalog.shared_pools.items()
    }

    routes: dict[str, list[str]] = {}
    for notify in catalog.notifies:
        for event in notify.events:
            bucket = routes.setdefault(event.value, [])
            for role in notify.roles:
                if role.value not in bucket:
                    bucket.append(role.value)
    if "pool_threshold" not in routes:
        # reference rule R16: pool thresholds go to the credit events' roles unless routed.
        merged: list[str] = []
        for credit_event in CREDIT_EVENTS:
            merged.extend(r for r in routes.get(credit_event, []) if r not in merged)
        routes["pool_threshold"] = merged
    for name in EVENTS:
        routes.setdefault(name, [])

    scenario_index = ScenarioIndex.build(
        [s.node.condition for s in scenarios],
        catalog.region_countries,
        lambda cond: _compile_condition(cond, catalog),
    )
    return CompiledPolicy(
        sources=tuple(m.file for m in catalog.modules),
        catalog=catalog,
        scenarios=tuple(scenarios),
        plans=tuple(catalog.plans),
        plan_pools=plan_pools,
        shared_pools=shared,
        credits_licence=catalog.credits_licence,
        licences=frozenset(catalog.all_licences()),
        domestic=domestic,
        pool_country=pool_country,
        routes={k: tuple(v) for k, v in routes.items()},
        uses_state=any(
            uses_state(s.condition) or any(uses_state(g.condition) for g in s.guards)
            for s in catalog.scenarios
        ),
        index=scenario_index,
    )


__all__ += ["NON_GEOGRAPHIC", "describe", "uses_state"]
