"""Analysis: walk the finite space of call situations a policy can tell apart.

Countries are grouped by the zones and areas they belong to, number types by the
ones the rules mention, licences and plans likewise, so the space stays small while
still covering every combination any condition can distinguish. Each situation is
run through the compiled scenarios in order; from that come

- **gaps** — situations no scenario decides, and
- **unreachable scenarios** — scenarios that are never the first to match
  (shadowed by earlier ones).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from . import ast
from .check import COUNTRIES
from .compile import CompiledPolicy, CompiledScenario, Facts
from .errors import Finding, Location
from .numbers import NON_GEOGRAPHIC, NumberInfo
from .vocabulary import CONTEXTS, DIRECTIONS

__all__ = ["Analysis", "Situation", "analysis_findings", "analyze"]


@dataclass(frozen=True, slots=True)
class Situation:
    facts: Facts
    location: str

    def describe(self) -> str:
        f = self.facts
        number = f.number
        if number.emergency:
            what = "an emergency short code"
        elif number.short_code:
            what = "a short code"
        else:
            where = "a non-geographic" if number.country == NON_GEOGRAPHIC else number.country
            what = f"a {number.number_type} number in {where}"
        plan = f.plan or "no calling plan"
        licences = ", ".join(sorted(f.licences - {f.plan} if f.plan else f.licences)) or "none"
        return (
            f"{f.direction} call from {f.context} to {what} (usage location {self.location}, "
            f"{plan}, other licences: {licences}"
            + ("" if f.shares_code else ", caller from another calling code")
            + ")"
        )


@dataclass
class Analysis:
    situations: int
    gaps: list[Situation]
    first_match: Counter[int]  # scenario index → situations it decides
    shadowed_by: dict[int, Counter[int]]  # unreachable scenario → who decided its matches
    matched: Counter[int]  # scenario index → situations it matches at all

    def unreachable(self, policy: CompiledPolicy) -> list[CompiledScenario]:
        return [s for s in policy.scenarios if self.first_match[s.index] == 0]


def _walk(cond: ast.Condition) -> Iterator[ast.Condition]:
    yield cond
    if isinstance(cond, ast.AllOf | ast.AnyOf):
        for item in cond.items:
            yield from _walk(item)
    elif isinstance(cond, ast.Not):
        yield from _walk(cond.item)


def _atoms(policy: CompiledPolicy) -> list[ast.Condition]:
    out: list[ast.Condition] = []
    for s in policy.catalog.scenarios:
        out.extend(_walk(s.condition))
        for g in s.guards:
            out.extend(_walk(g.condition))
    return out


def _country_reps(policy: CompiledPolicy, atoms: list[ast.Condition]) -> list[str]:
    """Up to two countries per membership class, plus one country no rule mentions."""
    regions = [frozenset(c.value for c in d.countries) for d in policy.catalog.regions.values()]
    for atom in atoms:
        if isinstance(atom, ast.DestinationIn | ast.CallerIn):
            regions.append(policy.catalog.region_countries(atom.region))
    mentioned = sorted(set().union(*regions)) if regions else []
    classes: dict[tuple[bool, ...], list[str]] = {}
    for country in mentioned:
        signature = tuple(country in r for r in regions)
        bucket = classes.setdefault(signature, [])
        if len(bucket) < 2:
            bucket.append(country)
    reps = [c for bucket in classes.values() for c in bucket]
    outsider = next((c for c in sorted(COUNTRIES) if c not in mentioned), "ZZ")
    reps.append(outsider)
    return reps


def _situations(policy: CompiledPolicy) -> Iterator[Situation]:
    atoms = _atoms(policy)
    countries = _country_reps(policy, atoms)
    types = sorted(
        {a.number_class.value for a in atoms if isinstance(a, ast.ToIs)}
        - {"emergency", "short_code", "service_number"}
    )
    types += [t for t in ("fixed_line", "unknown") if t not in types][:1]
    licences = sorted(
        {a.licence.value for a in atoms if isinstance(a, ast.HasLicence)} - set(policy.plans)
    )
    named_plans = {a.plan.value for a in atoms if isinstance(a, ast.PlanIs)}
    named_plans |= {a.licence.value for a in atoms if isinstance(a, ast.HasLicence)} & set(
        policy.plans
    )
    plans: list[str | None] = [p for p in policy.plans if p in named_plans]
    other_plan = next((p for p in policy.plans if p not in named_plans), None)
    if other_plan is not None:
        plans.append(other_plan)
    plans.append(None)
    uses_code = any(isinstance(a, ast.CallerSharesCode) for a in atoms)
    uses_caller = any(isinstance(a, ast.CallerIn) for a in atoms)
    uses_service = any(
        isinstance(a, ast.ToIs) and a.number_class.value == "service_number" for a in atoms
    )
    state_values = (
        [(True, True), (True, False), (False, False)] if policy.uses_state else [(True, True)]
    )
    pool_names = sorted({*policy.shared_pools, *(k[1] for k in policy.plan_pools)})
    pool_states = [frozenset(pool_names), frozenset()] if policy.uses_state else [frozenset()]

    numbers: list[NumberInfo] = []
    for country in [*countries, NON_GEOGRAPHIC]:
        for number_type in types:
            numbers.append(NumberInfo("", "", country, 1, number_type, False, False, True))
    licence_sets = [
        frozenset(c) for n in range(len(licences) + 1) for c in itertools.combinations(licences, n)
    ]

    for location in countries:
        short = [
            NumberInfo("", "", location, 0, "emergency", True, True, True),
            NumberInfo("", "", location, 0, "short_code", False, True, True),
        ]
        for number in [*numbers, *short]:
            if number.short_code:
                kind = "domestic"
            elif number.country == NON_GEOGRAPHIC:
                kind = "non_geographic"
            else:
                kind = (
                    "domestic" if policy.is_domestic(location, number.country) else "international"
                )
            shares_options = [True, False] if uses_code and not number.short_code else [True]
            origins = countries if uses_caller else [location]
            for direction, context, shares, origin, plan, lics, service, (
                cred,
                pos,
            ), pools in itertools.product(
                DIRECTIONS,
                CONTEXTS,
                shares_options,
                origins,
                plans,
                licence_sets,
                [False, True] if uses_service else [False],
                state_values,
                pool_states,
            ):
                held = lics | {plan} if plan else lics
                yield Situation(
                    Facts(
                        direction=direction,
                        context=context,
                        number=number,
                        dest_kind=kind,
                        origin_country=origin,
                        shares_code=shares,
                        licences=held,
                        plan=plan,
                        service_number=service,
                        credits_set_up=cred,
                        balance_positive=pos,
                        pools_left=pools,
                    ),
                    location,
                )


def analyze(policy: CompiledPolicy, *, max_gaps: int = 1000) -> Analysis:
    """Run every representative situation through the scenarios, in order."""
    first: Counter[int] = Counter()
    matched: Counter[int] = Counter()
    shadow: dict[int, Counter[int]] = {}
    gaps: list[Situation] = []
    count = 0
    scenarios = policy.scenarios
    for situation in _situations(policy):
        count += 1
        decider: int | None = None
        for scenario in scenarios:
            if scenario.test(situation.facts):
                matched[scenario.index] += 1
                if decider is None:
                    decider = scenario.index
                    first[decider] += 1
                else:
                    shadow.setdefault(scenario.index, Counter())[decider] += 1
        if decider is None and len(gaps) < max_gaps:
            gaps.append(situation)
    return Analysis(count, gaps, first, shadow, matched)


def analysis_findings(policy: CompiledPolicy, analysis: Analysis | None = None) -> list[Finding]:
    """Warnings: scenarios that can never decide a call, and situations nothing decides."""
    result = analysis or analyze(policy)
    lines = {m.file: m.lines for m in policy.catalog.modules}
    findings: list[Finding] = []

    def source(span: ast.Span) -> str | None:
        text = lines.get(span.file, ())
        return text[span.line - 1] if 0 < span.line <= len(text) else None

    for scenario in result.unreachable(policy):
        span = scenario.node.name.span
        if result.matched[scenario.index] == 0:
            message = f"scenario '{scenario.name}' matches no call at all"
            hint = "its condition contradicts itself"
        else:
            by = result.shadowed_by.get(scenario.index, Counter()).most_common(1)[0][0]
            earlier = policy.scenarios[by]
            message = (
                f"scenario '{scenario.name}' can never decide a call: every call it "
                f"matches is decided earlier"
            )
            hint = (
                f"shadowed by '{earlier.name}' at {earlier.span.file}:{earlier.span.line}; "
                "move it above, or narrow the earlier scenario"
            )
        findings.append(
            Finding(
                "warning",
                message,
                location=Location(span.file, span.line, span.column),
                source_line=source(span),
                hint=hint,
                code="unreachable",
            )
        )
    if result.gaps:
        last = policy.scenarios[-1].span if policy.scenarios else None
        where = Location(last.file, last.line, last.column) if last else None
        examples = "; ".join(g.describe() for g in result.gaps[:3])
        findings.append(
            Finding(
                "warning",
                f"{len(result.gaps)}{'+' if len(result.gaps) >= 1000 else ''} call situations are "
                f"decided by no scenario (refused as no_scenario), e.g. {examples}",
                location=where,
                source_line=source(last) if last else None,
                hint="add a scenario for them, or a final catch-all",
                code="gap",
            )
        )
    return findings
