"""Payments: the provider is asked outside any transaction, between recording the purchase
(pending) and crediting it; a crash in between is recovered with the same idempotency key.
Both backends."""

from __future__ import annotations

import multiprocessing
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import ledger_support as support
import pytest
import sqlalchemy as sa
from ledger_support import MONTH, FileProvider, make_call, make_tenant, tenant_data

import policy
from policy.ledger import Ledger, LedgerError, PaymentResult, SimulatedProvider

BIG = 36000  # seconds to London: the balance falls below the recharge threshold


def purchase_rows(url: str) -> list[Any]:
    from policy.ledger.store import connect, purchases

    db = connect(url, create=False)
    try:
        with db.connect() as conn:
            return list(conn.execute(sa.select(purchases).order_by(purchases.c.id)).all())
    finally:
        db.dispose()


def test_kill_between_payment_and_commit_then_recover(
    db_url: str, engine: policy.Engine, tmp_path: Path
) -> None:
    data = tenant_data()
    with Ledger(db_url, engine=engine, tenant=policy.Tenant.from_dict(data)) as ledger:
        ledger.init(month=MONTH)
    path, hang = str(tmp_path / "provider.json"), tmp_path / "paid"
    call = make_call("c1", duration=BIG)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(
        target=support.worker_pay_and_hang, args=(db_url, data, call, path, str(hang))
    )
    proc.start()
    while not hang.exists() and proc.is_alive():  # the provider has taken the money
        time.sleep(0.02)
    assert hang.exists(), "the charging process died before paying"
    proc.kill()
    proc.join()
    assert proc.exitcode == -9
    [pending] = purchase_rows(db_url)
    assert pending.status == "pending" and pending.kind == "recharge" and pending.ref == "c1"
    with ctx.Pool(1) as pool:  # recovery in another process
        resolved = pool.apply(support.worker_recover, (db_url, data, path))
    assert [(r["kind"], r["ref"], r["status"]) for r in resolved] == [("recharge", "c1", "paid")]
    provider = FileProvider(path)
    with Ledger(
        db_url, engine=engine, tenant=policy.Tenant.from_dict(data), provider=provider
    ) as ledger:
        assert ledger.verify() == []
        recharges = [h for h in ledger.history() if h["kind"] == "recharge"]
        assert [Decimal(h["amount"]) for h in recharges] == [Decimal("25.00")]
        assert ledger.recover(older_than=0) == []  # nothing left to resolve
        retried = ledger.charge(call)  # the call itself, charged again after the crash
        assert retried.permitted
        assert ledger.verify() == []
        recharges = [h for h in ledger.history() if h["kind"] == "recharge"]
    assert list(provider.charges().values()) == ["25.00"]  # the card was charged once
    assert len(recharges) == 1  # and credited once
    assert [p.status for p in purchase_rows(db_url)] == ["paid"]


class Gate:
    """A provider that blocks until released, recording what happened in order."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.entered = threading.Event()
        self.release = threading.Event()
        self.inner = SimulatedProvider()

    def charge(self, tenant: policy.Tenant, amount: Decimal, key: str) -> PaymentResult:
        self.events.append(f"{tenant.name} asks the provider")
        self.entered.set()
        assert self.release.wait(120)
        self.events.append(f"{tenant.name} has the answer")
        return self.inner.charge(tenant, amount, key)


def test_slow_provider_holds_no_lock(db_url: str, engine: policy.Engine) -> None:
    events: list[str] = []
    gate = Gate(events)
    slow = Ledger(db_url, engine=engine, tenant=make_tenant(tenant="slow"), provider=gate)
    fast = Ledger(db_url, engine=engine, tenant=make_tenant(tenant="fast"))
    with slow, fast:
        slow.init(month=MONTH)
        fast.init(month=MONTH)
        failures: list[BaseException] = []

        def charge_slow() -> None:
            try:
                slow.charge(make_call("s1", duration=BIG))
                events.append("slow charged")
            except BaseException as exc:
                failures.append(exc)

        worker = threading.Thread(target=charge_slow)
        worker.start()
        try:
            assert gate.entered.wait(60)
            fast.charge(make_call("f1", duration=BIG))  # needs a recharge too
            events.append("fast charged")
            slow.charge(make_call("s2", duration=60))  # the slow tenant's own small call
            events.append("slow's small call charged")
        finally:
            gate.release.set()
            worker.join()
        assert not failures
        assert events == [
            "slow asks the provider",
            "fast charged",
            "slow's small call charged",
            "slow has the answer",
            "slow charged",
        ]
        assert slow.verify() == [] and fast.verify() == []


class Silent:
    def __init__(self) -> None:
        self.release = threading.Event()

    def charge(self, tenant: policy.Tenant, amount: Decimal, key: str) -> PaymentResult:
        self.release.wait(120)
        return PaymentResult(True, None, f"late:{key}")


def test_provider_timeout_leaves_the_purchase_pending(db_url: str, engine: policy.Engine) -> None:
    silent = Silent()
    tenant = make_tenant()
    with Ledger(db_url, engine=engine, tenant=tenant, provider=silent, payment_timeout=0.05) as led:
        led.init(month=MONTH)
        with pytest.raises(LedgerError, match=r"did not answer within 0\.05 s") as caught:
            led.charge(make_call("c1", duration=BIG))
        assert caught.value.finding.code == "payment-timeout"
        silent.release.set()
        assert [p.status for p in purchase_rows(db_url)] == ["pending"]
        assert led.charged() == []  # nothing charged: the call can be charged again
    provider = SimulatedProvider()
    with Ledger(db_url, engine=engine, tenant=tenant, provider=provider) as led:
        decision = led.charge(make_call("c1", duration=BIG))  # same key: one payment
        assert decision.events[0].type == "recharge_succeeded"
        assert list(provider.attempts) == [purchase_rows(db_url)[0].key]
        assert led.verify() == []


def test_overdraft_larger_than_a_recharge_stops_recharging(
    db_url: str, engine: policy.Engine
) -> None:
    provider = SimulatedProvider()
    tenant = make_tenant(credits={"recharge_amount": "5.00"})
    with Ledger(db_url, engine=engine, tenant=tenant, provider=provider) as led:
        led.init(month=MONTH)
        first = led.charge(make_call("huge", duration=86400))  # far beyond the balance
        assert led.balance().balance is not None and led.balance().balance < -5
        paid = len(provider.attempts)
        later = [led.charge(make_call(f"c{i}", duration=60)) for i in range(5)]
        assert len(provider.attempts) == paid  # the card is not charged again and again
        failed = [e for d in later for e in d.events if e.type == "recharge_failed"]
        assert [e.reason for e in failed] == ["overdraft_exceeds_recharge"]  # said once
        assert all(d.denial == "balance_exhausted" for d in later)
        assert first.cost is not None and led.verify() == []


@pytest.mark.parametrize("duration", [4294967295, 10**30, 86401])
def test_impossible_durations_are_bad_input(
    db_url: str, engine: policy.Engine, duration: int
) -> None:
    from policy.support.errors import PolicyError

    with Ledger(db_url, engine=engine, tenant=make_tenant()) as led:
        led.init(month=MONTH)
        with pytest.raises(PolicyError, match="at most 86400") as caught:
            led.charge(make_call("c1", duration=duration))
        assert caught.value.finding.path == "duration"
        assert led.charged() == [] and led.verify() == []
        assert led.charge(make_call("c2", duration=86400)).permitted  # 24 h is allowed


def test_maximum_duration_is_configurable(
    db_url: str, engine: policy.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy.support.errors import PolicyError

    monkeypatch.setenv("CCPOLICY_MAX_DURATION", "3600")
    with pytest.raises(PolicyError, match="at most 3600"):
        policy.Call.from_dict(make_call("c1", duration=3601))
    with Ledger(db_url, engine=engine, tenant=make_tenant(), max_duration=600) as led:
        led.init(month=MONTH)
        with pytest.raises(LedgerError, match="at most 600"):
            led.charge(make_call("c1", duration=601))


def test_recovery_after_a_write_is_best_effort(db_url: str, engine: policy.Engine) -> None:
    """A write that then recovers another purchase still answers when the provider is
    silent: the purchase stays pending for `ledger recover`, the charge is kept."""
    from datetime import datetime, timedelta, timezone

    clock = [datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)]
    silent = Silent()
    tenant = make_tenant(credits={"funding": "one_time"})
    with Ledger(
        db_url,
        engine=engine,
        tenant=tenant,
        provider=silent,
        payment_timeout=0.05,
        clock=lambda: clock[0],
    ) as led:
        led.init(month=MONTH)
        with pytest.raises(LedgerError, match="did not answer"):
            led.fund("10.00", purchase_id="p1")
        clock[0] += timedelta(minutes=5)  # the purchase is stale: the next write recovers
        decision = led.charge(make_call("c1", duration=60))
        assert decision.permitted
        assert led.balance().balance is not None
        assert [p.status for p in purchase_rows(db_url)] == ["pending"]
    silent.release.set()
