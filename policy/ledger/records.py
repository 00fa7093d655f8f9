"""Records: decisions stored as JSON and read back, and the ledger's report rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from policy.engine.decision import Decision, Event, Notice, TraceEntry

__all__ = ["BalanceReport", "LotReport", "decision_from_json", "decision_to_json"]


def decision_to_json(decision: Decision) -> str:
    record = decision.to_dict()
    record["currency"] = decision.currency
    record["authorization"] = decision.authorization
    return json.dumps(record, sort_keys=True, ensure_ascii=False)


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def decision_from_json(text: str) -> Decision:
    """The decision exactly as it was first returned (money as Decimal again)."""
    d = json.loads(text)
    cost = d.get("cost")
    return Decision(
        call=d["call"],
        permitted=d["permitted"],
        scenario=d["scenario"],
        paid_by=d["paid_by"],
        reason=d["reason"],
        currency=d["currency"],
        pool=d.get("pool"),
        denial=d.get("denial"),
        billable_seconds=d.get("billable_seconds"),
        cost=None if cost is None else Decimal(cost["amount"]),
        max_duration=d.get("max_duration"),
        authorization=d.get("authorization", False),
        balance_after=_money(d.get("balance_after")),
        events=tuple(
            Event(
                e["type"],
                amount=_money(e.get("amount")),
                pool=e.get("pool"),
                percent=e.get("percent"),
                reason=e.get("reason"),
            )
            for e in d.get("events", ())
        ),
        notify=tuple(
            Notice(n["event"], tuple(n["roles"]), tuple(n["recipients"]))
            for n in d.get("notify", ())
        ),
        trace=tuple(
            TraceEntry(t["rule"], t["file"], t["line"], t["matched"], t.get("note"))
            for t in d.get("trace", ())
        ),
    )


@dataclass(frozen=True, slots=True)
class LotReport:
    id: int
    source: str  # initial | purchase | recharge
    amount: Decimal
    remaining: Decimal
    purchased_at: datetime
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "amount": str(self.amount),
            "remaining": str(self.remaining),
            "purchased_at": self.purchased_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class BalanceReport:
    tenant: str
    currency: str
    balance: Decimal | None  # None: credits not set up
    overdraft: Decimal
    failing: bool
    lots: tuple[LotReport, ...] = field(default=())
    dead_letters: int = 0  # notification deliveries given up on (`ledger notify --dead`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "currency": self.currency,
            "balance": None if self.balance is None else str(self.balance),
            "overdraft": str(self.overdraft),
            "recharge_failing": self.failing,
            "lots": [lot.to_dict() for lot in self.lots],
            "dead_deliveries": self.dead_letters,
        }
