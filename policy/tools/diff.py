"""Diff: what a policy (or rate-card) change does to real calls.

Both engines decide the same call history in order (``Engine.run`` semantics, each
against its own in-memory copy of the tenant), and every call whose permission, payer,
pool, denial, cost or authorized duration changes is reported old → new, with totals in
exact ``Decimal``: calls changed, cost old / new / delta, and the same per scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from policy.data.call import Call
from policy.data.tenant import Tenant
from policy.engine.decision import Decision
from policy.engine.evaluate import Engine

__all__ = ["FIELDS", "CallChange", "DiffReport", "ScenarioTotals", "diff_runs"]

# the decision fields a reviewer cares about, in the order they are reported
FIELDS = ("permitted", "paid_by", "pool", "denial", "cost", "max_duration")


def _value(decision: Decision, name: str) -> Any:
    if name == "max_duration":
        return decision.max_duration if decision.authorization else None
    value: Any = getattr(decision, name)
    return value


def _cost(decision: Decision) -> Decimal:
    return decision.cost if decision.cost is not None else Decimal(0)


@dataclass(frozen=True, slots=True)
class CallChange:
    """One call decided differently: the fields that changed, old → new."""

    call: str
    old: Decision
    new: Decision
    fields: tuple[str, ...]

    @property
    def delta(self) -> Decimal:
        return _cost(self.new) - _cost(self.old)

    def to_dict(self) -> dict[str, Any]:
        def show(value: Any) -> Any:
            return str(value) if isinstance(value, Decimal) else value

        return {
            "call": self.call,
            "changed": list(self.fields),
            "old": {f: show(_value(self.old, f)) for f in FIELDS} | {"scenario": self.old.scenario},
            "new": {f: show(_value(self.new, f)) for f in FIELDS} | {"scenario": self.new.scenario},
            "cost_delta": str(self.delta),
        }


@dataclass
class ScenarioTotals:
    """Totals of the calls a scenario decided (in the old run; ``old → new`` if it moved)."""

    calls: int = 0
    changed: int = 0
    cost_old: Decimal = Decimal(0)
    cost_new: Decimal = Decimal(0)

    @property
    def delta(self) -> Decimal:
        return self.cost_new - self.cost_old

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "changed": self.changed,
            "cost_old": str(self.cost_old),
            "cost_new": str(self.cost_new),
            "cost_delta": str(self.delta),
        }


@dataclass
class DiffReport:
    currency: str
    calls: int = 0
    changes: list[CallChange] = field(default_factory=list)
    cost_old: Decimal = Decimal(0)
    cost_new: Decimal = Decimal(0)
    by_scenario: dict[str, ScenarioTotals] = field(default_factory=dict)

    @property
    def delta(self) -> Decimal:
        return self.cost_new - self.cost_old

    def to_dict(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "changes": [c.to_dict() for c in self.changes],
            "totals": {
                "calls": self.calls,
                "changed": len(self.changes),
                "cost_old": str(self.cost_old),
                "cost_new": str(self.cost_new),
                "cost_delta": str(self.delta),
            },
            "by_scenario": {name: t.to_dict() for name, t in self.by_scenario.items()},
        }


def changed_fields(old: Decision, new: Decision) -> tuple[str, ...]:
    """The reviewed fields whose values differ (costs compared as amounts: 0.1 == 0.10)."""
    return tuple(f for f in FIELDS if _value(old, f) != _value(new, f))


def diff_runs(
    old: Engine, new: Engine, calls: Sequence[Call] | Iterable[Call], tenant: Tenant
) -> DiffReport:
    """Decide ``calls`` with both engines, in order, and compare call by call."""
    history = list(calls)
    report = DiffReport(currency=tenant.currency)
    for before, after in zip(old.run(history, tenant), new.run(history, tenant), strict=True):
        report.calls += 1
        report.cost_old += _cost(before)
        report.cost_new += _cost(after)
        key = (
            before.scenario
            if before.scenario == after.scenario
            else f"{before.scenario} → {after.scenario}"
        )
        totals = report.by_scenario.setdefault(key, ScenarioTotals())
        totals.calls += 1
        totals.cost_old += _cost(before)
        totals.cost_new += _cost(after)
        fields = changed_fields(before, after)
        if fields:
            totals.changed += 1
            report.changes.append(CallChange(before.call, before, after, fields))
    return report


def render_text(report: DiffReport) -> str:
    """A reviewer's summary: one line per changed call, then totals and per-scenario totals."""
    cur = report.currency
    lines: list[str] = []
    for change in report.changes:
        parts = []
        for name in change.fields:
            before, after = _value(change.old, name), _value(change.new, name)
            parts.append(f"{name} {_show(before)} → {_show(after)}")
        scenario = (
            change.old.scenario
            if change.old.scenario == change.new.scenario
            else f"{change.old.scenario} → {change.new.scenario}"
        )
        lines.append(f"{change.call}: {', '.join(parts)}  [{scenario}]")
    if not report.changes:
        lines.append("no call is decided differently")
    lines.append("")
    lines.append(
        f"{len(report.changes)} of {report.calls} calls changed; cost {report.cost_old} → "
        f"{report.cost_new} {cur} (delta {_signed(report.delta)} {cur})"
    )
    moved = {k: t for k, t in report.by_scenario.items() if t.changed or t.delta}
    if moved:
        lines.append("by scenario:")
        width = max(len(k) for k in moved)
        for name, t in moved.items():
            lines.append(
                f"  {name:<{width}}  {t.changed} of {t.calls} changed, cost {t.cost_old} → "
                f"{t.cost_new} (delta {_signed(t.delta)})"
            )
    return "\n".join(lines) + "\n"


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _signed(value: Decimal) -> str:
    return f"+{value}" if value > 0 else str(value)


__all__ += ["changed_fields", "render_text"]
