"""The funding advisor: which auto-recharge trigger and amount suit this history?

Method (also in ``docs/rating.md``): the history — any calls file ``rate`` reads,
including a rated usage-report CSV — is replayed through the engine once per candidate
``(trigger, amount)``, with the tenant's credits set to auto-recharge with that trigger
and amount, payment succeeding, and a starting balance of one purchase (``amount``).
For each candidate it counts the recharges, the lowest balance reached (after a call's
debit, before the recharge it triggers — recharges are instant in the engine), the calls
refused for lack of funds (``balance_exhausted``), and the money tied up: the
time-weighted average balance.

The recommendation: among candidates that refuse no call and never let the balance
reach zero, the one with the least money tied up (then fewer recharges, then the smaller
amount); if none is that safe, the one refusing fewest calls, then with the highest
lowest balance. Amounts below the documented minimum purchase (50) are not candidates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from policy.data.tenant import Credits, Tenant
from policy.engine.evaluate import Engine
from policy.language.source import display_name
from policy.rating.batch import SeenIds
from policy.rating.cdr import BadRow, read_calls

__all__ = [
    "DEFAULT_CANDIDATES",
    "MINIMUM_PURCHASE",
    "Advice",
    "Candidate",
    "Outcome",
    "advise",
    "parse_candidates",
    "replay",
    "write_chart",
]

MINIMUM_PURCHASE = Decimal(50)
DEFAULT_CANDIDATES: tuple[tuple[Decimal, Decimal], ...] = tuple(
    (Decimal(t), Decimal(a)) for t in (10, 25, 50, 100, 250) for a in (50, 100, 250, 500)
)
_FUNDS_DENIALS = frozenset(("balance_exhausted",))


@dataclass(frozen=True, slots=True)
class Candidate:
    trigger: Decimal
    amount: Decimal

    def __str__(self) -> str:
        return f"below {self.trigger} buy {self.amount}"


@dataclass
class Outcome:
    """What a candidate would have done over the history."""

    candidate: Candidate
    calls: int = 0
    recharges: int = 0
    recharged: Decimal = Decimal(0)
    zero_events: int = 0
    lowest: Decimal = Decimal(0)
    refused: list[str] = field(default_factory=list)
    average: Decimal = Decimal(0)  # time-weighted average balance: money tied up
    spent: Decimal = Decimal(0)
    series: list[tuple[datetime, Decimal]] = field(default_factory=list)
    daily: dict[str, Decimal] = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        return not self.refused and not self.zero_events and self.lowest > 0

    def to_dict(self) -> dict[str, object]:
        return {
            "trigger": str(self.candidate.trigger),
            "amount": str(self.candidate.amount),
            "recharges": self.recharges,
            "lowest_balance": str(self.lowest),
            "refused_calls": len(self.refused),
            "refused": self.refused[:20],
            "average_balance": str(self.average),
            "spent": str(self.spent),
        }


@dataclass
class Advice:
    outcomes: list[Outcome]
    best: Outcome
    reason: str
    currency: str

    def to_dict(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "candidates": [o.to_dict() for o in self.outcomes],
            "recommended": {
                "trigger": str(self.best.candidate.trigger),
                "amount": str(self.best.candidate.amount),
            },
            "reason": self.reason,
        }


def parse_candidates(text: str) -> list[Candidate]:
    """``"10:50,25:100"`` → candidates (trigger:amount); raises ValueError with the reason."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        trigger_text, sep, amount_text = part.partition(":")
        if not sep:
            raise ValueError(f"'{part}' is not TRIGGER:AMOUNT, e.g. 25:100")
        try:
            trigger, amount = Decimal(trigger_text), Decimal(amount_text)
        except ArithmeticError:
            raise ValueError(f"'{part}' is not TRIGGER:AMOUNT, e.g. 25:100") from None
        if not trigger.is_finite() or not amount.is_finite() or trigger < 0:
            raise ValueError(f"'{part}': the trigger must be an amount ≥ 0")
        if amount < MINIMUM_PURCHASE:
            raise ValueError(
                f"'{part}': the recharge amount must be at least {MINIMUM_PURCHASE} "
                "(the minimum purchase)"
            )
        out.append(Candidate(trigger, amount))
    if not out:
        raise ValueError("no candidates given")
    return out


def _tenant_with(tenant: Tenant, candidate: Candidate) -> Tenant:
    credits = Credits(
        balance=candidate.amount,
        funding="auto_recharge",
        recharge_below=candidate.trigger,
        recharge_amount=candidate.amount,
        payment="ok",
    )
    return tenant.with_credits(credits)


def replay(
    engine: Engine,
    tenant: Tenant,
    history: str | os.PathLike[str],
    candidate: Candidate,
    *,
    keep_series: bool = False,
) -> Outcome:
    """Replay ``history`` under ``candidate``; malformed rows raise a located error."""
    variant = _tenant_with(tenant, candidate)
    state = engine.bind(variant).initial.copy()
    outcome = Outcome(candidate, lowest=candidate.amount)
    source = display_name(Path(history))
    seen = SeenIds()
    balance = candidate.amount
    weighted = Decimal(0)
    first: datetime | None = None
    last: datetime | None = None
    for item in read_calls(history):
        if isinstance(item, BadRow):
            raise item.error(source)
        if any(True for _ in seen.get(item.id)):
            continue  # a repeat changes nothing (reference rule R15)
        seen.add(item.id, 1)
        decision = engine.decide(item, variant, state)
        when = item.start.astimezone(timezone.utc)
        if first is None:
            first = when
            if keep_series:
                outcome.series.append((when, balance))
        if last is not None and when > last:
            weighted += balance * Decimal((when - last).total_seconds())
        if last is None or when > last:
            last = when
        outcome.calls += 1
        recharged = Decimal(0)
        for event in decision.events:
            if event.type == "recharge_succeeded":
                outcome.recharges += 1
                recharged += event.amount or Decimal(0)
            elif event.type == "balance_zero":
                outcome.zero_events += 1
        outcome.recharged += recharged
        if decision.denial in _FUNDS_DENIALS:
            outcome.refused.append(item.id)
        cost = decision.cost
        if decision.permitted and cost:
            outcome.spent += cost
            day = when.date().isoformat()
            outcome.daily[day] = outcome.daily.get(day, Decimal(0)) + cost
        after = decision.balance_after
        if after is not None:
            dip = after - recharged  # the balance before the recharge this call triggered
            if dip < outcome.lowest:
                outcome.lowest = dip
            if after != balance:
                balance = after
                if keep_series:
                    outcome.series.append((when, balance))
    span = (last - first).total_seconds() if first is not None and last is not None else 0
    outcome.average = (weighted / Decimal(span)).quantize(Decimal("0.01")) if span else balance
    return outcome


def _choose(outcomes: Sequence[Outcome]) -> Outcome:
    safe = [o for o in outcomes if o.safe]
    if safe:
        return min(safe, key=lambda o: (o.average, o.recharges, o.candidate.amount))
    return min(outcomes, key=lambda o: (len(o.refused), -o.lowest, o.average))


def advise(
    engine: Engine,
    tenant: Tenant,
    history: str | os.PathLike[str],
    candidates: Iterable[Candidate] | None = None,
) -> Advice:
    """Replay every candidate and recommend one (see the module docstring)."""
    chosen = (
        list(candidates)
        if candidates is not None
        else [Candidate(t, a) for t, a in DEFAULT_CANDIDATES]
    )
    outcomes = [replay(engine, tenant, history, c) for c in chosen]
    best = _choose(outcomes)
    best_full = replay(engine, tenant, history, best.candidate, keep_series=True)
    outcomes[outcomes.index(best)] = best_full
    currency = tenant.currency
    c = best_full.candidate
    if best_full.safe:
        reason = (
            f"Recharging {c.amount} {currency} when the balance falls below {c.trigger} "
            f"refused no call and never let the balance reach zero over {best_full.calls:,} "
            f"calls, with the least money tied up of the safe settings (an average balance "
            f"of {best_full.average} {currency}, {best_full.recharges} recharges)."
        )
    else:
        reason = (
            f"No candidate avoided every refusal; recharging {c.amount} {currency} below "
            f"{c.trigger} refused the fewest calls ({len(best_full.refused)}) — consider a "
            f"higher trigger or amount."
        )
    return Advice(outcomes, best_full, reason, currency)


def write_chart(advice: Advice, path: str | os.PathLike[str]) -> None:
    """A PNG: the recommended setting's balance over time, and credits spent per day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    best = advice.best
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), constrained_layout=True)
    try:
        if best.series:
            times = [t for t, _ in best.series]
            values = [float(v) for _, v in best.series]  # plotting only: money stays Decimal
            top.step(times, values, where="post", label="balance")
            top.axhline(
                float(best.candidate.trigger),
                color="tab:red",
                linestyle="--",
                label=f"trigger {best.candidate.trigger}",
            )
            top.legend(loc="upper right")
        top.set_title(f"Balance over time — {best.candidate} {advice.currency}")
        top.set_ylabel(advice.currency)
        days = sorted(best.daily)
        bottom.bar(days, [float(best.daily[d]) for d in days], color="tab:blue")
        bottom.set_title("Credits spent per day")
        bottom.set_ylabel(advice.currency)
        bottom.tick_params(axis="x", labelrotation=60, labelsize=7)
        figure.savefig(os.fspath(path), format="png", dpi=100)
    finally:
        plt.close(figure)
