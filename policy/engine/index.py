"""Index: which scenarios can possibly match a call, found without trying them all.

At compile time each scenario's condition is reduced to *necessary* conditions on a few
facts of the call — "the direction is one of …", "the destination country is one of …",
"the user holds one of these licences", "one of these flags holds" (``to is mobile``,
``not caller shares calling code``, any negated test…). The reduction is conservative:
what it does not understand puts no restriction on the scenario, so it stays a candidate.

At route time each indexed fact of the call selects, with one dict probe, the bit mask of
the scenarios compatible with its value; the masks are and-ed together and the set bits,
lowest first, are the candidates in policy order. The engine tests only those (first match
wins, exactly as a scan would: a scenario left out could not have matched).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from operator import attrgetter
from typing import Any

from policy.engine.facts import Facts, Test
from policy.language import ast

__all__ = ["Necessary", "ScenarioIndex"]

# Facts with one value per call: several requirements on one of them intersect.
_SINGLE: dict[str, Callable[[Any], Hashable]] = {
    "direction": attrgetter("direction"),
    "context": attrgetter("context"),
    "destination": attrgetter("number.country"),
    "caller": attrgetter("origin_country"),
    "plan": attrgetter("plan"),
}
# Facts with a set of values per call: a requirement is "one of these is present".
LICENCES = "licences"
FLAGS = "flags"

Need = dict[str, frozenset[Hashable]]  # fact → values, one of which the call must present
Flag = tuple[Hashable, ...]  # an atom (or its negation), without its spans


class Necessary:
    """Reduces conditions to what they need (:data:`Need`), remembering for every flag it
    names the atom it stands for and whether negated (``atoms``), to be compiled once."""

    def __init__(self, region_countries: Callable[[ast.Region], frozenset[str]]) -> None:
        self.countries = region_countries
        self.atoms: dict[Hashable, tuple[ast.Condition, bool]] = {}

    def __call__(self, cond: ast.Condition, positive: bool = True) -> Need:
        """What any call satisfying ``cond`` (its negation when not ``positive``) presents:
        for each fact named, at least one of the values listed. Facts not named: anything."""
        if isinstance(cond, ast.Not):
            return self(cond.item, not positive)
        if isinstance(cond, ast.AllOf | ast.AnyOf):
            needs = [self(c, positive) for c in cond.items]
            # De Morgan: "not (a or b)" needs what "not a" and "not b" both need.
            return _all(needs) if isinstance(cond, ast.AllOf) == positive else _any(needs)
        if positive:
            if isinstance(cond, ast.IsDirection):
                return {"direction": frozenset({cond.direction})}
            if isinstance(cond, ast.FromContext):
                return {"context": frozenset({cond.context.value})}
            if isinstance(cond, ast.DestinationIn):
                return {"destination": self.countries(cond.region)}
            if isinstance(cond, ast.CallerIn):
                return {"caller": self.countries(cond.region)}
            if isinstance(cond, ast.PlanIs):
                return {"plan": frozenset({cond.plan.value})}
            if isinstance(cond, ast.HasLicence):
                return {LICENCES: frozenset({cond.licence.value})}
        flag = self._flag(cond, positive)
        self.atoms.setdefault(flag, (cond, positive))
        return {FLAGS: frozenset({flag})}

    def _flag(self, cond: ast.Condition, positive: bool) -> Flag:
        """The atom (negated or not) as a hashable key without spans: equal atoms are one
        flag, tested once per situation."""
        values: list[Hashable] = [positive, type(cond).__name__]
        for name in getattr(type(cond), "__slots__"):  # noqa: B009 - mypy: type[object]
            value = getattr(cond, name)
            if isinstance(value, ast.Span):
                continue
            if isinstance(value, ast.Name):
                value = value.value
            elif isinstance(value, ast.Region):
                value = self.countries(value)
            values.append(value)
        return tuple(values)


def _all(needs: Sequence[Need]) -> Need:
    out: Need = {}
    for need in needs:
        for fact, values in need.items():
            known = out.get(fact)
            if known is None:
                out[fact] = values
            elif fact in _SINGLE:
                out[fact] = known & values  # one value: it must be in both
            elif len(values) < len(known):
                out[fact] = values  # a set of values: either requirement is necessary
    return out


def _any(needs: Sequence[Need]) -> Need:
    if not needs:
        return {}
    common = set(needs[0]).intersection(*needs[1:])
    return {fact: frozenset().union(*(need[fact] for need in needs)) for fact in common}


class ScenarioIndex:
    """Bit masks of the scenarios compatible with each value of each indexed fact."""

    __slots__ = ("_everything", "_flags", "_licences", "_single")

    def __init__(
        self,
        count: int,
        single: tuple[tuple[Callable[[Any], Hashable], dict[Hashable, int], int], ...],
        licences: tuple[dict[Hashable, int], int] | None,
        flags: tuple[tuple[tuple[Test, int], ...], int] | None,
    ) -> None:
        self._everything = (1 << count) - 1
        self._single = single  # (value of the call, value → compatible mask, default mask)
        self._licences = licences  # (licence → mask of the scenarios needing it, the rest)
        self._flags = flags  # ((flag's test, mask of the scenarios needing it)…, the rest)

    @classmethod
    def build(
        cls,
        conditions: Sequence[ast.Condition],
        region_countries: Callable[[ast.Region], frozenset[str]],
        compile_atom: Callable[[ast.Condition], Test],
    ) -> ScenarioIndex:
        necessary = Necessary(region_countries)
        needs = [necessary(condition) for condition in conditions]
        everything = (1 << len(conditions)) - 1

        def postings(fact: str) -> tuple[dict[Hashable, int], int] | None:
            """value → mask of the scenarios requiring it; mask of those that do not."""
            posted: dict[Hashable, int] = {}
            constrained = 0
            for i, need in enumerate(needs):
                values = need.get(fact)
                if values is None:
                    continue
                constrained |= 1 << i
                for value in values:
                    posted[value] = posted.get(value, 0) | 1 << i
            if not constrained:
                return None
            return posted, everything & ~constrained

        single = []
        for fact, value_of in _SINGLE.items():
            posted = postings(fact)
            if posted is not None:
                table, free = posted
                single.append((value_of, {v: m | free for v, m in table.items()}, free))
        flags = postings(FLAGS)
        tests: tuple[tuple[Test, int], ...] = ()
        if flags is not None:
            for flag, mask in flags[0].items():
                atom, positive = necessary.atoms[flag]
                test = compile_atom(atom)
                tests += ((test if positive else _negation(test), mask),)
        return cls(
            len(conditions),
            tuple(single),
            postings(LICENCES),
            None if flags is None else (tests, flags[1]),
        )

    def candidates(self, facts: Facts) -> Iterator[int]:
        """The indexes of the scenarios that may match ``facts``, in policy order."""
        mask = self._everything
        for value_of, table, free in self._single:
            mask &= table.get(value_of(facts), free)
        if self._licences is not None and mask:
            table, held = self._licences[0], self._licences[1]
            for licence in facts.licences:
                held |= table.get(licence, 0)
            mask &= held
        if self._flags is not None and mask:
            tests, present = self._flags
            for test, needing in tests:
                if needing & mask and test(facts):
                    present |= needing
            mask &= present
        while mask:
            low = mask & -mask
            yield low.bit_length() - 1
            mask ^= low


def _negation(test: Test) -> Test:
    return lambda f: not test(f)
