"""Coverage: which parts of a policy the tests exercised.

For every policy a test run loads, each of these is an *item* with one or two
*outcomes*, each hit or missed:

- a **scenario**: ``hit`` when it decided at least one call;
- a **guard** (``deny CODE unless/if …``): ``denied`` and ``passed``;
- a **condition part** (each top-level ``and`` part of a scenario's ``when``): ``true``
  and ``false``, among the calls that *reached* the scenario (no earlier one matched);
- a **pool** (each plan pool and conferencing pool): ``drawn`` when a permitted call
  drew on it;
- a **route** (each event a ``notify`` sends to roles): ``emitted`` when a call raised it.

A condition-part outcome that no call can produce — ``outbound`` is never false in a
scenario below ``when inbound … then free``, because every inbound call was decided
above it — is *implied by earlier scenarios*: shown as ``n/a`` and left out of the
percentage. That is decided by walking the situations :mod:`policy.tools.analysis` enumerates,
and only for outcomes the tests missed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policy.engine.compile import CompiledPolicy, Part
from policy.engine.decision import Decision
from policy.engine.facts import Facts
from policy.engine.route import ENGINE
from policy.language import ast

__all__ = ["Coverage", "Item", "PolicyCoverage", "below_threshold", "render_text"]

NA = None  # an outcome no call can produce (condition parts only)


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to cover, where it is written, and each of its outcomes: hit, missed or n/a."""

    kind: str  # scenario | guard | condition | pool | route
    name: str
    file: str
    line: int
    outcomes: tuple[tuple[str, bool | None], ...]

    @property
    def counted(self) -> int:
        return sum(1 for _, hit in self.outcomes if hit is not NA)

    @property
    def covered(self) -> int:
        return sum(1 for _, hit in self.outcomes if hit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "outcomes": dict(self.outcomes),
        }


def _percent(covered: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * covered / total


@dataclass
class PolicyCoverage:
    """What the calls decided by one policy exercised."""

    policy: CompiledPolicy
    scenarios: set[int] = field(default_factory=set)
    guards: set[tuple[int, int, bool]] = field(default_factory=set)
    parts: set[tuple[int, int, bool]] = field(default_factory=set)
    pools: set[str] = field(default_factory=set)  # pool item names
    events: set[str] = field(default_factory=set)

    def observe(self, facts: Facts, decision: Decision) -> None:
        self.events.update(e.type for e in decision.events)
        if decision.permitted and decision.pool is not None:
            name = _pool_item(self.policy, decision.pool)
            if name is not None:
                self.pools.add(name)
        if decision.scenario == ENGINE:  # refused before any rule (unknown_user)
            return
        for scenario in self.policy.scenarios:
            for i, part in enumerate(scenario.parts):
                self.parts.add((scenario.index, i, part.test(facts)))
            if not scenario.test(facts):
                continue
            if decision.scenario == scenario.name:
                self.scenarios.add(scenario.index)
            for j, guard in enumerate(scenario.guards):
                denies = guard.denies(facts)
                self.guards.add((scenario.index, j, denies))
                if denies:
                    break
            break

    def items(self) -> list[Item]:
        """Every item, in source order within each kind."""
        policy = self.policy
        items: list[Item] = []
        missing: set[tuple[int, int, bool]] = set()
        for s in policy.scenarios:
            for i in range(len(s.parts)):
                missing.update(
                    (s.index, i, v) for v in (True, False) if (s.index, i, v) not in self.parts
                )
        impossible = _infeasible(policy, missing) if missing else set()
        for s in policy.scenarios:
            items.append(
                Item(
                    "scenario",
                    s.name,
                    s.span.file,
                    s.span.line,
                    (("hit", s.index in self.scenarios),),
                )
            )
            for j, guard in enumerate(s.guards):
                outcomes: tuple[tuple[str, bool | None], ...] = tuple(
                    (label, (s.index, j, value) in self.guards)
                    for label, value in (("denied", True), ("passed", False))
                )
                items.append(
                    Item(
                        "guard",
                        f"{s.name}: {guard.label}",
                        guard.span.file,
                        guard.span.line,
                        outcomes,
                    )
                )
            for i, (label, span) in enumerate(_part_spans(s.node, s.parts)):
                outcomes = tuple(
                    (
                        word,
                        NA
                        if (s.index, i, value) in impossible
                        else (s.index, i, value) in self.parts,
                    )
                    for word, value in (("true", True), ("false", False))
                )
                items.append(
                    Item("condition", f"{s.name}: {label}", span.file, span.line, outcomes)
                )
        for name, span in _pool_items(policy):
            items.append(Item("pool", name, span.file, span.line, (("drawn", name in self.pools),)))
        for event, span in _route_items(policy):
            items.append(
                Item("route", event, span.file, span.line, (("emitted", event in self.events),))
            )
        return items


class Coverage:
    """An :class:`~policy.tools.testing.Observer` collecting coverage for every policy loaded."""

    def __init__(self) -> None:
        self._by_policy: dict[tuple[str, ...], PolicyCoverage] = {}

    def engine_loaded(self, policy: CompiledPolicy) -> None:
        self._for(policy)

    def observe(self, policy: CompiledPolicy, facts: Facts, decision: Decision) -> None:
        self._for(policy).observe(facts, decision)

    def _for(self, policy: CompiledPolicy) -> PolicyCoverage:
        key = policy.sources
        if key not in self._by_policy:
            self._by_policy[key] = PolicyCoverage(policy)
        return self._by_policy[key]

    @property
    def policies(self) -> list[PolicyCoverage]:
        return list(self._by_policy.values())

    def report(self) -> dict[str, Any]:
        """Everything as plain data: per policy its items, then the totals."""
        policies = []
        covered = total = 0
        for cov in self.policies:
            items = cov.items()
            c = sum(i.covered for i in items)
            t = sum(i.counted for i in items)
            covered, total = covered + c, total + t
            policies.append(
                {
                    "sources": list(cov.policy.sources),
                    "covered": c,
                    "total": t,
                    "percent": round(_percent(c, t), 2),
                    "items": [i.to_dict() for i in items],
                }
            )
        return {
            "covered": covered,
            "total": total,
            "percent": round(_percent(covered, total), 2),
            "policies": policies,
        }


def below_threshold(report: dict[str, Any], threshold: float) -> bool:
    """True when a :meth:`Coverage.report` is under ``threshold`` percent overall."""
    covered, total = report["covered"], report["total"]
    return bool(total and covered * 100 < threshold * total)


# ---------------------------------------------------------------------------- the items


def _part_spans(node: ast.Scenario, parts: tuple[Part, ...]) -> list[tuple[str, ast.Span]]:
    return [(part.label, getattr(part.node, "span", node.span)) for part in parts]


def _pool_items(policy: CompiledPolicy) -> list[tuple[str, ast.Span]]:
    out: list[tuple[str, ast.Span]] = []
    for plan in policy.catalog.plans.values():
        for pool in plan.pools:
            out.append((f"{plan.name.value}:{pool.name.value}", pool.span))
    for shared in policy.catalog.shared_pools.values():
        out.append((f"{shared.licence.value}:{shared.name.value}", shared.span))
    return out


def _pool_item(policy: CompiledPolicy, key: str) -> str | None:
    """The pool item a decision's pool key belongs to (``plan:COUNTRY:name`` → ``plan:name``)."""
    for spec in policy.shared_pools.values():
        if spec.key == key:
            return spec.key
    head, _, rest = key.partition(":")
    name = rest.rpartition(":")[2]
    return f"{head}:{name}" if (head, name) in policy.plan_pools else None


def _route_items(policy: CompiledPolicy) -> list[tuple[str, ast.Span]]:
    """Each event routed to at least one role, placed at the first notify that routes it
    (an event routed only by default, like pool_threshold, at the first notify of all)."""
    notifies = policy.catalog.notifies
    out: list[tuple[str, ast.Span]] = []
    for event, roles in policy.routes.items():
        if not roles or not notifies:
            continue
        where = next(
            (n.span for n in notifies if any(e.value == event for e in n.events)), notifies[0].span
        )
        out.append((event, where))
    out.sort(key=lambda pair: (pair[1].file, pair[1].line, pair[0]))
    return out


def _infeasible(
    policy: CompiledPolicy, wanted: set[tuple[int, int, bool]]
) -> set[tuple[int, int, bool]]:
    """Of ``wanted`` condition-part outcomes, those no call situation that reaches the
    scenario produces (implied by the scenarios above it)."""
    from policy.tools.analysis import situations

    open_ = set(wanted)
    by_scenario: dict[int, list[tuple[int, bool]]] = {}
    for index, part, value in open_:
        by_scenario.setdefault(index, []).append((part, value))
    for situation in situations(policy):
        facts = situation.facts
        for scenario in policy.scenarios:
            todo = by_scenario.get(scenario.index)
            if todo:
                for part, value in list(todo):
                    if scenario.parts[part].test(facts) == value:
                        todo.remove((part, value))
                        open_.discard((scenario.index, part, value))
                if not open_:
                    return set()
            if scenario.test(facts):
                break
    return open_


# ---------------------------------------------------------------------------- text


def _mark(hit: bool | None) -> str:
    return "n/a" if hit is NA else ("✔" if hit else "✘ MISSED")


def render_text(report: dict[str, Any]) -> str:
    """The coverage table: one line per item (kind, place, outcomes, name), then totals."""
    lines = ["", "coverage:"]
    for policy in report["policies"]:
        lines.append(f"  policy {', '.join(policy['sources'])}")
        rows = policy["items"]
        width = max((len(f"{r['file']}:{r['line']}") for r in rows), default=10)
        for row in rows:
            place = f"{row['file']}:{row['line']}"
            outcome = "  ".join(f"{k} {_mark(v)}" for k, v in row["outcomes"].items())
            lines.append(f"  {row['kind']:<9} {place:<{width}}  {outcome:<22} {row['name']}")
        lines.append(
            f"  {policy['covered']}/{policy['total']} outcomes covered: {policy['percent']:.1f}%"
        )
    lines.append(f"coverage: {report['percent']:.1f}% ({report['covered']}/{report['total']})")
    return "\n".join(lines)
