"""Decision: the engine's answer for one call, and its JSON / text renderings."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["Decision", "Event", "Notice", "TraceEntry"]


@record(frozen=True, slots=True)
class TraceEntry:
    """A rule the engine consulted: where it is written and whether it matched."""

    rule: str
    file: str
    line: int
    matched: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "file": self.file,
            "line": self.line,
            "matched": self.matched,
        }
        if self.note:
            out["note"] = self.note
        return out


@record(frozen=True, slots=True)
class Event:
    """Something admins may need to hear about: a recharge, a zero balance, a pool level."""

    type: str
    amount: Decimal | None = None
    pool: str | None = None
    percent: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.amount is not None:
            out["amount"] = str(self.amount)
        if self.pool is not None:
            out["pool"] = self.pool
        if self.percent is not None:
            out["percent"] = self.percent
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@record(frozen=True, slots=True)
class Notice:
    """Who must be told about one event: the routed roles somebody holds, and their e-mails."""

    event: str
    roles: tuple[str, ...]
    recipients: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "roles": list(self.roles), "recipients": list(self.recipients)}


class Decision(NamedTuple):
    """Is the call permitted, what does it cost, who pays, who must be told.

    Immutable. A named tuple rather than a frozen dataclass: a decision is built on
    every call and a tuple is built several times faster.
    """

    call: str
    permitted: bool
    scenario: str
    paid_by: str  # free | plan | conferencing | credits | none
    reason: str
    currency: str
    pool: str | None = None
    denial: str | None = None
    billable_seconds: int | None = None  # None: no duration given (an authorization)
    cost: Decimal | None = None
    max_duration: int | None = None
    authorization: bool = False
    balance_after: Decimal | None = None
    events: tuple[Event, ...] = ()
    notify: tuple[Notice, ...] = ()
    trace: Sequence[TraceEntry] = ()  # a policy.trace.Trace from the engine: built when read

    def to_dict(self) -> dict[str, Any]:
        """The decision object (docs/reference.md) (JSON-ready: money as decimal strings)."""
        out: dict[str, Any] = {
            "call": self.call,
            "permitted": self.permitted,
            "scenario": self.scenario,
            "paid_by": self.paid_by,
            "pool": self.pool,
            "denial": self.denial,
            "reason": self.reason,
        }
        if self.billable_seconds is not None:
            out["billable_seconds"] = self.billable_seconds
            out["cost"] = {"amount": str(self.cost), "currency": self.currency}
        if self.authorization:
            out["max_duration"] = self.max_duration
        if self.balance_after is not None:
            out["balance_after"] = str(self.balance_after)
        out["events"] = [e.to_dict() for e in self.events]
        out["notify"] = [n.to_dict() for n in self.notify]
        out["trace"] = [t.to_dict() for t in self.trace]
        return out

    def to_text(self, *, explain: bool = False) -> str:
        """One line for people; with ``explain`` the trace follows, one rule a line."""
        verdict = "PERMITTED" if self.permitted else f"DENIED ({self.denial})"
        parts = [f"{self.call}: {verdict}", f"paid by {self.paid_by}"]
        if self.pool:
            parts.append(f"pool {self.pool}")
        if self.billable_seconds is not None:
            parts.append(f"{self.billable_seconds}s billable")
            parts.append(f"cost {self.cost} {self.currency}")
        if self.authorization:
            limit = "unlimited" if self.max_duration is None else f"{self.max_duration}s"
            parts.append(f"may last {limit}")
        if self.balance_after is not None:
            parts.append(f"balance {self.balance_after} {self.currency}")
        lines = [" · ".join(parts), f"  {self.reason}"]
        for event in self.events:
            notice = next((n for n in self.notify if n.event == event.type), None)
            who = ", ".join(notice.recipients) if notice and notice.recipients else "nobody"
            detail = f" {event.amount}" if event.amount is not None else ""
            if event.pool:
                detail = f" {event.pool} at {event.percent}%"
            lines.append(f"  event {event.type}{detail} → {who}")
        if explain:
            lines.append("  rules consulted:")
            for entry in self.trace:
                mark = "✔" if entry.matched else "·"
                note = f" — {entry.note}" if entry.note else ""
                lines.append(f"    {mark} {entry.file}:{entry.line} {entry.rule}{note}")
        return "\n".join(lines)
