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

import bisect
import itertools
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from policy.data.numbers import NON_GEOGRAPHIC, NumberInfo
from policy.engine.compile import CompiledPolicy, CompiledScenario, compile_condition, describe
from policy.engine.facts import Facts
from policy.language import ast
from policy.language.check import COUNTRIES
from policy.language.vocabulary import CONTEXTS, DIRECTIONS
from policy.support.errors import Finding, Location

__all__ = [
    "Analysis",
    "Cover",
    "DecisionTable",
    "Dimension",
    "Overlap",
    "Row",
    "Situation",
    "analysis_findings",
    "analyze",
    "decision_table",
    "dimensions",
    "outcome_text",
    "situations",
    "walk",
]


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


def _atoms(policy: CompiledPolicy) -> list[ast.Condition]:
    return list(ast.scenario_conditions(policy.catalog.scenarios))


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


@dataclass(frozen=True, slots=True)
class _Space:
    """The situations :func:`situations` walks, as a product: blocks of (usage location,
    number dialled, destination kind), each followed by the same inner dimensions
    (``_INNER`` order; ``shares`` has one value for short codes)."""

    blocks: tuple[tuple[str, NumberInfo, str], ...]
    inner: dict[str, tuple[object, ...]]
    shares_short: tuple[bool, ...]

    def dims(self, number: NumberInfo) -> list[tuple[object, ...]]:
        values = dict(self.inner)
        if number.short_code:
            values["shares"] = self.shares_short
        return [values[name] for name in _INNER]

    def facts(self, location: str, number: NumberInfo, kind: str, point: Sequence[object]) -> Facts:
        direction, context, shares, origin, plan, lics, service, state, pools = point
        cred, pos = cast("tuple[bool, bool]", state)
        held = cast("frozenset[str]", lics)
        return Facts(
            direction=cast(str, direction),
            context=cast(str, context),
            number=number,
            dest_kind=kind,
            origin_country=cast("str | None", origin),
            shares_code=cast(bool, shares),
            licences=held | {cast(str, plan)} if plan else held,
            plan=cast("str | None", plan),
            service_number=cast(bool, service),
            credits_set_up=cred,
            balance_positive=pos,
            pools_left=cast("frozenset[str]", pools),
        )


_INNER = ("direction", "context", "shares", "origin", "plan", "lics", "service", "state", "pools")


def _space(policy: CompiledPolicy) -> _Space:
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
    blocks: list[tuple[str, NumberInfo, str]] = []
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
            blocks.append((location, number, kind))
    inner: dict[str, tuple[object, ...]] = {
        "direction": tuple(DIRECTIONS),
        "context": tuple(CONTEXTS),
        "shares": (True, False) if uses_code else (True,),
        "origin": tuple(countries) if uses_caller else (None,),  # None: the usage location
        "plan": tuple(plans),
        "lics": tuple(licence_sets),
        "service": (False, True) if uses_service else (False,),
        "state": tuple(state_values),
        "pools": tuple(pool_states),
    }
    return _Space(tuple(blocks), inner, (True,))


def _points(space: _Space, location: str, number: NumberInfo) -> Iterator[tuple[object, ...]]:
    dims = space.dims(number)
    origin = _INNER.index("origin")
    if dims[origin] == (None,):
        dims[origin] = (location,)
    return itertools.product(*dims)


def situations(policy: CompiledPolicy) -> Iterator[Situation]:
    space = _space(policy)
    for location, number, kind in space.blocks:
        for point in _points(space, location, number):
            yield Situation(space.facts(location, number, kind, point), location)


def walk(policy: CompiledPolicy) -> Iterator[tuple[Situation, int | None, tuple[int, ...]]]:
    """Every representative situation with the index of the scenario that decides it (None:
    a gap) and the indexes of the later scenarios that match it too (first match wins)."""
    scenarios = policy.scenarios
    for situation in situations(policy):
        facts = situation.facts
        matching = [s.index for s in scenarios if s.test(facts)]
        if matching:
            yield situation, matching[0], tuple(matching[1:])
        else:
            yield situation, None, ()


class _Tally:
    """Counts of one walk: who decides, who else matches, the first gaps."""

    def __init__(self, max_gaps: int) -> None:
        self.count = 0
        self.first: Counter[int] = Counter()
        self.matched: Counter[int] = Counter()
        self.shadow: dict[int, Counter[int]] = {}
        self.gaps: list[Situation] = []
        self.max_gaps = max_gaps

    def add(self, situation: Situation, decider: int | None, also: tuple[int, ...]) -> None:
        self.count += 1
        if decider is None:
            if len(self.gaps) < self.max_gaps:
                self.gaps.append(situation)
            return
        self.first[decider] += 1
        self.matched[decider] += 1
        for later in also:
            self.matched[later] += 1
            self.shadow.setdefault(later, Counter())[decider] += 1

    def result(self) -> Analysis:
        return Analysis(self.count, self.gaps, self.first, self.shadow, self.matched)


def analyze(policy: CompiledPolicy, *, max_gaps: int = 1000) -> Analysis:
    """Run every representative situation through the scenarios, in order.

    The same answer as :func:`walk` gives situation by situation, computed scenario by
    scenario instead: each condition becomes the set of situations it matches (one bit
    per situation in a big integer, built from its atoms' sets with ``&``, ``|``, ``^``);
    a scenario decides what it matches of the situations still undecided. The work is
    linear in the number of scenarios (times the space's size in words, done in C), not
    scenarios × situations calls.
    """
    vectors = _Vectors(policy)
    size = vectors.size
    undecided = vectors.ones
    first: Counter[int] = Counter()
    matched: Counter[int] = Counter()
    deciders: list[tuple[int, int]] = []  # (scenario index, the situations it decides)
    unreachable: dict[int, int] = {}  # matched but never first: its situations
    for scenario in policy.scenarios:
        match = vectors.of(scenario.node.condition)
        count = match.bit_count()
        if not count:
            continue
        matched[scenario.index] = count
        decided = match & undecided
        if decided:
            first[scenario.index] = decided.bit_count()
            undecided ^= decided
            deciders.append((scenario.index, decided))
        else:
            unreachable[scenario.index] = match
    shadow: dict[int, Counter[int]] = {}
    if unreachable:
        # who decides each situation an unreachable scenario matches, counted in walk
        # order (so that ties go to the decider met first, as the walk counts them)
        wanted = 0
        for match in unreachable.values():
            wanted |= match
        by_situation = array("l", [0]) * size
        for index, decided in deciders:
            for at in _positions(decided & wanted, size):
                by_situation[at] = index
        decided_by = dict(deciders)
        for index, match in unreachable.items():
            counts: Counter[int] = Counter()
            rest, left = match, matched[index]
            while rest:  # one step per decider, met in walk order
                decider = by_situation[size - rest.bit_length()]
                share = rest & decided_by[decider]
                if share == rest:  # the last one takes what is left
                    counts[decider] = left
                    break
                counts[decider] = share.bit_count()
                left -= counts[decider]
                rest ^= share
            shadow[index] = counts
    gaps = [vectors.situation(at) for at in itertools.islice(_positions(undecided, size), max_gaps)]
    return Analysis(size, gaps, first, shadow, matched)


def _positions(vector: int, size: int) -> Iterator[int]:
    """The situations (indexes in walk order) whose bit is set in ``vector``."""
    flags = format(vector, f"0{size}b").encode("ascii").translate(_FROM_DIGITS)
    return itertools.compress(range(size), flags)


#: 0/1 bytes ↔ the digits "0"/"1" (a set of situations is built as bytes, one per
#: situation, then read as a binary number: one bit per situation, the first situation
#: the most significant).
_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_FROM_DIGITS = bytes.maketrans(b"01", b"\x00\x01")


def _pack(flags: bytes) -> int:
    return int(flags.translate(_TO_DIGITS), 2) if flags else 0


class _Vectors:
    """Sets of situations as big integers, one bit per situation (the first situation of
    the walk the most significant): the whole space, each atom's set (built from a small
    table of its values over the dimensions it reads, repeated over the rest, as bytes),
    each condition's."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self.policy = policy
        self.space = _space(policy)
        self.blocks: list[tuple[str, NumberInfo, str, list[tuple[object, ...]]]] = []
        self.starts: list[int] = []
        size = 0
        for location, number, kind in self.space.blocks:
            dims = self.space.dims(number)
            origin = _INNER.index("origin")
            if dims[origin] == (None,):
                dims[origin] = (location,)
            self.starts.append(size)
            self.blocks.append((location, number, kind, dims))
            size += _product(len(d) for d in dims)
        self.size = size
        self.ones = (1 << size) - 1
        self._atoms: dict[tuple[str, str], int] = {}

    def of(self, cond: ast.Condition) -> int:
        """The situations ``cond`` matches (atoms are kept; compound conditions are not,
        so memory stays a few vectors beyond the atoms')."""
        if isinstance(cond, ast.AllOf):
            vector = self.ones
            for item in cond.items:
                vector &= self.of(item)
                if not vector:
                    break
        elif isinstance(cond, ast.AnyOf):
            vector = 0
            for item in cond.items:
                vector |= self.of(item)
        elif isinstance(cond, ast.Not):
            vector = self.of(cond.item) ^ self.ones
        else:
            vector = self._atom(cond)
        return vector

    def _atom(self, atom: ast.Condition) -> int:
        key = (type(atom).__name__, describe(atom))
        vector = self._atoms.get(key)
        if vector is None:
            vector = self._atoms[key] = self._build(atom)
        return vector

    def _build(self, atom: ast.Condition) -> int:
        test = compile_condition(atom, self.policy.catalog)
        reads = _READS.get(type(atom))
        if isinstance(atom, ast.ToIs) and atom.number_class.value == "service_number":
            reads = frozenset({"service"})
        parts: list[bytes] = []
        if reads is not None and not reads:  # decided by the block alone
            for location, number, kind, dims in self.blocks:
                facts = self.space.facts(location, number, kind, [d[0] for d in dims])
                parts.append((b"\x01" if test(facts) else b"\x00") * _product(map(len, dims)))
            return _pack(b"".join(parts))
        wanted = [i for i, name in enumerate(_INNER) if reads is None or name in reads]
        shapes: dict[tuple[object, ...], bytes] = {}
        for location, number, kind, dims in self.blocks:
            # an atom reading inner dimensions only is the same in blocks of one shape
            shape = (number.short_code, dims[_INNER.index("origin")])
            if reads is not None and shape in shapes:
                parts.append(shapes[shape])
                continue
            table: dict[tuple[object, ...], bytes] = {}
            for values in itertools.product(*(dims[i] for i in wanted)):
                point = [d[0] for d in dims]
                for i, value in zip(wanted, values, strict=True):
                    point[i] = value
                facts = self.space.facts(location, number, kind, point)
                table[values] = b"\x01" if test(facts) else b"\x00"
            shapes[shape] = _tile(dims, wanted, table, 0, ())
            parts.append(shapes[shape])
        return _pack(b"".join(parts))

    def situation(self, at: int) -> Situation:
        block = bisect.bisect_right(self.starts, at) - 1
        location, number, kind, dims = self.blocks[block]
        offset = at - self.starts[block]
        point: list[object] = []
        for values in reversed(dims):
            offset, digit = divmod(offset, len(values))
            point.append(values[digit])
        point.reverse()
        return Situation(self.space.facts(location, number, kind, point), location)


def _product(sizes: Iterable[int]) -> int:
    total = 1
    for n in sizes:
        total *= n
    return total


def _tile(
    dims: list[tuple[object, ...]],
    wanted: list[int],
    table: dict[tuple[object, ...], bytes],
    at: int,
    chosen: tuple[object, ...],
) -> bytes:
    """The bytes of one block from dimension ``at`` on, the ``wanted`` ones before it fixed
    to ``chosen``: a dimension the atom does not read repeats the rest."""
    if not any(i >= at for i in wanted):
        return table[chosen] * _product(len(d) for d in dims[at:])
    if at not in wanted:
        return _tile(dims, wanted, table, at + 1, chosen) * len(dims[at])
    return b"".join(_tile(dims, wanted, table, at + 1, (*chosen, v)) for v in dims[at])


#: The inner dimensions each kind of atom reads; ``frozenset()``: the block alone (the
#: number dialled, the usage location, the destination's kind) decides it. An atom not
#: listed is evaluated on every situation.
_READS: dict[type, frozenset[str]] = {
    ast.IsDirection: frozenset({"direction"}),
    ast.FromContext: frozenset({"context"}),
    ast.ToIs: frozenset(),
    ast.DestinationIs: frozenset(),
    ast.DestinationIn: frozenset(),
    ast.CallerIn: frozenset({"origin"}),
    ast.CallerSharesCode: frozenset({"shares"}),
    ast.HasLicence: frozenset({"plan", "lics"}),
    ast.HasCallingPlan: frozenset({"plan"}),
    ast.PlanIs: frozenset({"plan"}),
    ast.CreditsSetUp: frozenset({"state"}),
    ast.BalancePositive: frozenset({"state"}),
    ast.PoolHasMinutes: frozenset({"pools"}),
}


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


# ---- the decision table ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dimension:
    """One way situations differ: a value per situation, or a yes/no with its two phrasings."""

    name: str
    get: Callable[[Situation], str | bool]
    yes: str = ""
    no: str = ""

    def render(self, values: set[str | bool]) -> str:
        if self.yes:
            return self.yes if values == {True} else self.no
        return f"{self.name}={'|'.join(sorted(str(v) for v in values))}"


def _bool_dim(yes: str, no: str, get: Callable[[Situation], bool]) -> Dimension:
    return Dimension(yes, get, yes, no)


def _in_region(countries: frozenset[str], *, caller: bool) -> Callable[[Situation], bool]:
    if caller:
        return lambda s: s.facts.origin_country in countries
    return lambda s: s.facts.number.country in countries


def _holds(licence: str) -> Callable[[Situation], bool]:
    return lambda s: licence in s.facts.licences


def _has_minutes(pool: str) -> Callable[[Situation], bool]:
    return lambda s: pool in s.facts.pools_left


def dimensions(policy: CompiledPolicy) -> tuple[Dimension, ...]:
    """The dimensions a decision table row is described by, for this policy's conditions."""
    atoms = _atoms(policy)
    catalog = policy.catalog

    def to(s: Situation) -> str:
        n = s.facts.number
        return "emergency" if n.emergency else "short_code" if n.short_code else n.number_type

    dims = [
        Dimension("direction", lambda s: s.facts.direction),
        Dimension("context", lambda s: s.facts.context),
        Dimension("to", to),
        Dimension("destination", lambda s: s.facts.dest_kind),
    ]
    seen: set[str] = set()
    for atom in atoms:
        if isinstance(atom, ast.DestinationIn | ast.CallerIn):
            label = describe(atom)
            if label in seen:
                continue
            seen.add(label)
            countries = catalog.region_countries(atom.region)
            who, where = label.split(" in ", 1)
            get = _in_region(countries, caller=isinstance(atom, ast.CallerIn))
            dims.append(_bool_dim(label, f"{who} not in {where}", get))
    if any(isinstance(a, ast.CallerSharesCode) for a in atoms):
        dims.append(
            _bool_dim(
                "caller shares calling code",
                "caller does not share calling code",
                lambda s: s.facts.shares_code,
            )
        )
    if any(isinstance(a, ast.ToIs) and a.number_class.value == "service_number" for a in atoms):
        dims.append(
            _bool_dim(
                "to is service_number",
                "to is not service_number",
                lambda s: s.facts.service_number,
            )
        )
    dims.append(Dimension("plan", lambda s: s.facts.plan or "none"))
    licences = sorted(
        {a.licence.value for a in atoms if isinstance(a, ast.HasLicence)} - set(policy.plans)
    )
    for licence in licences:
        dims.append(_bool_dim(f"has {licence}", f"has no {licence}", _holds(licence)))
    if policy.uses_state:
        dims.append(
            _bool_dim("credits set up", "credits not set up", lambda s: s.facts.credits_set_up)
        )
        dims.append(
            _bool_dim(
                "balance positive", "balance not positive", lambda s: s.facts.balance_positive
            )
        )
        for pool in sorted({*policy.shared_pools, *(k[1] for k in policy.plan_pools)}):
            dims.append(
                _bool_dim(
                    f"pool {pool} has minutes",
                    f"pool {pool} has no minutes",
                    _has_minutes(pool),
                )
            )
    return tuple(dims)


class Cover:
    """The values each dimension takes over a set of situations, and one example."""

    __slots__ = ("count", "example", "values")

    def __init__(self, width: int) -> None:
        self.count = 0
        self.values: list[set[str | bool]] = [set() for _ in range(width)]
        self.example: Situation | None = None

    def add(self, situation: Situation, point: tuple[str | bool, ...]) -> None:
        self.count += 1
        if self.example is None:
            self.example = situation
        for bucket, value in zip(self.values, point, strict=True):
            bucket.add(value)

    def merge(self, other: Cover) -> None:
        self.count += other.count
        if self.example is None:
            self.example = other.example
        for bucket, values in zip(self.values, other.values, strict=True):
            bucket |= values

    def describe(self, dims: Sequence[Dimension], full: Cover) -> list[str]:
        """The dimensions on which these situations are narrower than the whole space."""
        return [
            dim.render(values)
            for dim, values, every in zip(dims, self.values, full.values, strict=True)
            if values != every
        ]


@dataclass
class Row:
    scenario: CompiledScenario | None  # None: the gap row
    outcome: str
    cover: Cover


@dataclass
class Overlap:
    later: CompiledScenario
    earlier: CompiledScenario
    cover: Cover


@dataclass
class DecisionTable:
    """What every situation comes to: rows by deciding scenario and outcome, the gaps, the
    scenarios overlapped (partly or wholly) by earlier ones, the counts behind them."""

    dims: tuple[Dimension, ...]
    full: Cover
    rows: list[Row]
    gaps: Cover
    gap_groups: dict[tuple[str, str], Cover]  # gaps by (direction, context)
    overlaps: list[Overlap]
    analysis: Analysis

    def shadowed(self, policy: CompiledPolicy) -> list[CompiledScenario]:
        """Scenarios that match situations but never decide one (all decided earlier)."""
        a = self.analysis
        return [s for s in policy.scenarios if a.first_match[s.index] == 0 and a.matched[s.index]]

    def dead(self, policy: CompiledPolicy) -> list[CompiledScenario]:
        """Scenarios that match no situation at all (their condition contradicts itself)."""
        return [s for s in policy.scenarios if self.analysis.matched[s.index] == 0]


def outcome_text(outcome: ast.Outcome) -> str:
    """A scenario's outcome as policy text: ``then pool domestic, spill over to …``."""
    if isinstance(outcome, ast.PayFree):
        return "then free"
    if isinstance(outcome, ast.PayIncluded):
        return f"then {outcome.paid_by}"
    if isinstance(outcome, ast.PayDeny):
        return f"deny {outcome.denial.value}"
    if isinstance(outcome, ast.PayPool):
        spill = f", spill over to credits of {outcome.spill}" if outcome.spill else ""
        return f"then pool {outcome.pool.value}{spill}"
    return f"then credits of {outcome.payer}"


def _outcome_of(scenario: CompiledScenario, facts: Facts) -> str:
    for guard in scenario.guards:
        if guard.denies(facts):
            return f"deny {guard.denial} ({guard.label} at line {guard.span.line})"
    return outcome_text(scenario.outcome)


def decision_table(policy: CompiledPolicy, *, max_gaps: int = 1000) -> DecisionTable:
    """Walk every situation once; group them into the rows of a decision table."""
    dims = dimensions(policy)
    width = len(dims)
    full = Cover(width)
    gaps = Cover(width)
    gap_groups: dict[tuple[str, str], Cover] = {}
    rows: dict[tuple[int, str], Row] = {}
    pairs: dict[tuple[int, int], Overlap] = {}
    tally = _Tally(max_gaps)
    scenarios = policy.scenarios
    for situation, decider, also in walk(policy):
        tally.add(situation, decider, also)
        point = tuple(d.get(situation) for d in dims)
        full.add(situation, point)
        if decider is None:
            gaps.add(situation, point)
            key = (situation.facts.direction, situation.facts.context)
            gap_groups.setdefault(key, Cover(width)).add(situation, point)
            continue
        scenario = scenarios[decider]
        outcome = _outcome_of(scenario, situation.facts)
        row = rows.get((decider, outcome))
        if row is None:
            row = rows[(decider, outcome)] = Row(scenario, outcome, Cover(width))
        row.cover.add(situation, point)
        for later in also:
            pair = pairs.get((later, decider))
            if pair is None:
                pair = pairs[(later, decider)] = Overlap(scenarios[later], scenario, Cover(width))
            pair.cover.add(situation, point)
    ordered = [rows[k] for k in sorted(rows)]
    overlaps = [pairs[k] for k in sorted(pairs)]
    groups = {k: gap_groups[k] for k in sorted(gap_groups)}
    return DecisionTable(dims, full, ordered, gaps, groups, overlaps, tally.result())
