"""Ledger semantics on both backends: idempotency, exact balances, lots, geography, pools."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from ledger_support import MONTH, START, make_call, make_tenant, random_calls

import policy
from policy.ledger import Ledger, LedgerError, add_months


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_ledger(url: str, engine: policy.Engine, **changes: Any) -> Ledger:
    clock = changes.pop("clock", None)
    ledger = Ledger(url, engine=engine, tenant=make_tenant(**changes), clock=clock)
    ledger.init(month=MONTH)
    return ledger


def row_counts(url: str) -> dict[str, int]:
    from policy.ledger.store import connect, metadata

    db = connect(url, create=False)
    try:
        with db.connect() as conn:
            return {
                name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in metadata.tables.items()
                if sa.inspect(conn).has_table(name)
            }
    finally:
        db.dispose()


def test_init_twice_keeps_the_ledger(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine) as ledger:
        ledger.charge(make_call("c1"))
        again = ledger.init(month=MONTH)
        assert again["created"] is False and again["migrations"] == []
        assert ledger.balance().balance == Decimal("20.00") - Decimal("0.17")
        assert [h["kind"] for h in ledger.history()] == ["initial", "charge"]


def test_charge_is_idempotent_by_call_id(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine) as ledger:
        first = ledger.submit(make_call("c1", duration=600))
        before = row_counts(db_url)
        again = ledger.submit(make_call("c1", duration=600))
        changed = ledger.submit(make_call("c1", duration=6000))  # same id, other content
        assert not first.replayed and again.replayed and changed.replayed
        assert again.decision == first.decision == changed.decision
        assert row_counts(db_url) == before
        assert ledger.balance().balance == first.decision.balance_after


def test_balance_is_initial_plus_recharges_minus_charges(
    db_url: str, engine: policy.Engine
) -> None:
    calls = random_calls("r", 60, seed=7)
    with open_ledger(db_url, engine) as ledger:
        decisions = [ledger.charge(c) for c in calls]
        charges = sum((d.cost or Decimal(0) for d in decisions), Decimal(0))
        recharges = sum(
            (e.amount or 0 for d in decisions for e in d.events if e.type == "recharge_succeeded"),
            Decimal(0),
        )
        assert recharges > 0 and charges > 0
        balance = ledger.balance()
        assert balance.balance == Decimal("20.00") + recharges - charges
        assert balance.balance == decisions[-1].balance_after
        assert sum(Decimal(h["amount"]) for h in ledger.history()) == balance.balance
        assert ledger.verify() == []
        # the ledger decides exactly as the engine's in-memory run (reference, Evaluation)
        expected = list(engine.run(calls, make_tenant()))
        assert [d.to_dict() for d in decisions] == [d.to_dict() for d in expected]


def test_authorize_reads_the_live_state_and_changes_nothing(
    db_url: str, engine: policy.Engine
) -> None:
    with open_ledger(db_url, engine, credits={"funding": "one_time"}) as ledger:
        before = ledger.authorize(make_call("a1", duration=None)).max_duration
        ledger.charge(make_call("c1", duration=3000))
        counts = row_counts(db_url)
        after = ledger.authorize(make_call("a1", duration=None))
        assert row_counts(db_url) == counts
        assert after.permitted and after.max_duration is not None and before is not None
        assert after.max_duration < before
        ledger.charge(make_call("c2", duration=3000))
        assert ledger.authorize(make_call("a1", duration=None)).max_duration < after.max_duration


def test_failed_recharge_is_told_once_per_episode(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, credits={"payment": "expired_card"}) as ledger:
        decisions = [ledger.charge(make_call(f"c{i}", duration=1800)) for i in range(30)]
        failed = [e for d in decisions for e in d.events if e.type == "recharge_failed"]
        assert len(failed) == 1 and failed[0].reason == "expired_card"
        assert ledger.balance().failing is True
        assert all(h["kind"] != "recharge" for h in ledger.history())
        assert decisions[-1].denial == "balance_exhausted"
        assert ledger.verify() == []


def test_recharge_adds_a_lot_and_a_provider_payment(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine) as ledger:
        decisions = [ledger.charge(make_call(f"c{i}", duration=1800)) for i in range(60)]
        succeeded = [e for d in decisions for e in d.events if e.type == "recharge_succeeded"]
        kinds = [h["kind"] for h in ledger.history()]
        assert kinds.count("recharge") == len(succeeded) > 1
        assert ledger.balance().lots[-1].source == "recharge"
        attempts = ledger.provider.attempts  # type: ignore[attr-defined]
        assert len(attempts) == len(succeeded) and all(r.ok for r in attempts.values())
        assert ledger.verify() == []


def test_lots_are_spent_first_in_first_out_and_expire(db_url: str, engine: policy.Engine) -> None:
    t0 = datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)
    clock = Clock(t0)
    with open_ledger(db_url, engine, credits={"funding": "one_time"}, clock=clock) as ledger:
        clock.now = t0 + timedelta(days=40)
        ledger.fund("30.00")
        cost = ledger.charge(make_call("c1", duration=3000)).cost
        assert cost == Decimal("1.20")
        lots = {lot.source: lot for lot in ledger.balance().lots}
        assert lots["initial"].remaining == Decimal("20.00") - cost  # oldest spent first
        assert lots["purchase"].remaining == Decimal("30.00")
        assert lots["initial"].expires_at == add_months(t0, 12)
        clock.now = add_months(t0, 12) + timedelta(seconds=1)  # the first lot expires
        report = ledger.balance()
        assert report.balance == Decimal("30.00")
        assert [lot.source for lot in report.lots] == ["purchase"]
        kinds = [(h["kind"], h["amount"]) for h in ledger.history()]
        assert kinds[-1] == ("expiry", str(-(Decimal("20.00") - cost)))
        assert ledger.verify() == []
        clock.now = add_months(t0 + timedelta(days=40), 12)  # and the second
        assert ledger.balance().balance == Decimal(0)
        later = START.replace(year=2027, month=3)
        denied = ledger.charge(make_call("c2", start=later))
        assert denied.denial == "balance_exhausted"
        assert sum(Decimal(h["amount"]) for h in ledger.history()) == Decimal(0)
        assert ledger.verify() == []


def test_overdraft_is_paid_back_by_the_next_lot(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, credits={"funding": "one_time", "balance": "1.00"}) as led:
        d = led.charge(make_call("c1", duration=3000))  # 1.20 charged in full
        assert d.balance_after == Decimal("-0.20")
        report = led.fund("10.00")
        assert report.balance == Decimal("9.80") and report.overdraft == 0
        assert [lot.remaining for lot in report.lots] == [Decimal("9.80")]
        assert led.verify() == []


def test_foreign_billing_is_refused_unless_overridden(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, billing_country="GB") as ledger:
        counts = row_counts(db_url)
        with pytest.raises(
            LedgerError, match=r"geography \(US\) differs .* billing country \(GB\)"
        ):
            ledger.fund("50.00")
        assert row_counts(db_url) == counts
        # an auto-recharge is a purchase too: it fails, once
        decisions = [ledger.charge(make_call(f"c{i}", duration=1800)) for i in range(20)]
        failed = [e for d in decisions for e in d.events if e.type == "recharge_failed"]
        assert [e.reason for e in failed] == ["foreign_billing"]
        ledger.allow_foreign_billing("approved by finance, ticket 42")
        report = ledger.fund("50.00")
        assert report.lots[-1].source == "purchase" and report.lots[-1].amount == Decimal("50.00")
        assert ledger.verify() == []


def test_fund_refuses_bad_amounts_and_missing_credits(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine) as ledger:
        counts = row_counts(db_url)
        for bad in ("-5", "0", "abc", "1.0000001", "NaN"):
            with pytest.raises(LedgerError):
                ledger.fund(bad)
        assert row_counts(db_url) == counts
        first = ledger.fund("5.00", purchase_id="p-1")
        assert ledger.fund("5.00", purchase_id="p-1").balance == first.balance  # retry-safe
    with Ledger(db_url, engine=engine, tenant=make_tenant(tenant="nocredits", credits=None)) as l2:
        l2.init(month=MONTH)
        with pytest.raises(LedgerError, match="no Communications Credits"):
            l2.fund("5.00")


def test_pools_are_per_calendar_month(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine) as ledger:
        domestic = "domestic_calling_plan:US:domestic"
        d1 = ledger.charge(make_call("m1", to="+12125551234", duration=40 * 60))
        assert d1.paid_by == "plan" and d1.cost == 0
        d2 = ledger.charge(make_call("m2", to="+12125551234", duration=20 * 60))
        assert d2.cost and d2.cost > 0  # 10 minutes left, the rest from credits
        april = START.replace(month=4)
        d3 = ledger.charge(make_call("m3", to="+12125551234", duration=20 * 60, start=april))
        assert d3.paid_by == "plan" and d3.cost == 0  # a new month, fresh pools
        pools = {(p["month"], p["pool"]): p for p in ledger.pools(MONTH)}
        assert pools[(MONTH, domestic)]["used"] == 3000 == pools[(MONTH, domestic)]["size"]
        assert {p["pool"]: p["used"] for p in ledger.pools("2026-04")}[domestic] == 20
        calls = [
            make_call("m1", to="+12125551234", duration=40 * 60),
            make_call("m2", to="+12125551234", duration=20 * 60),
            make_call("m3", to="+12125551234", duration=20 * 60, start=april),
        ]
        expected = [d.to_dict() for d in engine.run(calls, make_tenant())]
        assert [d.to_dict() for d in (d1, d2, d3)] == expected


def test_unknown_tenant_and_unreachable_databases(
    db_url: str, engine: policy.Engine, tmp_path: Any
) -> None:
    with open_ledger(db_url, engine):
        pass
    with Ledger(db_url, engine=engine, tenant=make_tenant(tenant="fabrikam")) as other:
        counts = row_counts(db_url)
        with pytest.raises(LedgerError, match="tenant 'fabrikam' is not in the ledger"):
            other.charge(make_call("c1"))
        with pytest.raises(LedgerError, match="not in the ledger"):
            other.fund("5")
        assert row_counts(db_url) == counts
    for url, pattern in (
        ("sqlite:///" + str(tmp_path / "missing.db"), "no ledger at"),
        ("postgresql://nobody@127.0.0.1:1/none", "cannot reach database"),
        ("not a url", "malformed database URL"),
        ("mysql://x@h/db", "unsupported database"),
    ):
        with (
            Ledger(url, engine=engine, tenant=make_tenant()) as bad,
            pytest.raises(LedgerError, match=pattern),
        ):
            bad.balance()
    assert not (tmp_path / "missing.db").exists()
