"""Reliability of sessions, both backends: 8 switches beginning, updating and ending
sessions against one small balance (one-time and auto-recharge); a switch killed with
SIGKILL again and again, restarted and re-sending what it was doing."""

from __future__ import annotations

import multiprocessing
import os
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import session_workers as workers
from ledger_support import MONTH, tenant_data

import policy
from policy.ledger import Ledger

WORKERS = 8
# CI may raise these (the issue asks for "many" sessions and ≥ 30 kills); the defaults keep
# a developer's run short.
PER_WORKER = int(os.environ.get("CCPOLICY_LEDGER_SESSIONS_PER_WORKER", "25"))
KILLS = int(os.environ.get("CCPOLICY_LEDGER_SESSION_KILLS", "30"))


def _run_switches(db_url: str, data: dict[str, object], quota: int) -> list[dict[str, object]]:
    work = [(db_url, data, f"w{w}-", PER_WORKER, 500 + w, quota) for w in range(WORKERS)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        return pool.starmap(workers.worker_sessions, work)


def test_eight_switches_never_overspend_a_one_time_balance(
    db_url: str, engine: policy.Engine
) -> None:
    data = tenant_data(credits={"balance": "3.00", "funding": "one_time"})
    tenant = policy.Tenant.from_dict(data)
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        ledger.init(month=MONTH)
    results = _run_switches(db_url, data, quota=120)
    assert [r["negative"] for r in results] == [[]] * WORKERS  # never below zero, anywhere
    ended = {k: v for r in results for k, v in r["ended"].items()}
    assert sum(r["denied"] for r in results) > 0  # the balance really was contended
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        stored = {d.call: d.to_dict() for d in ledger.charged()}
        assert stored == ended  # every settled decision, each once
        balance = ledger.balance().balance
        assert balance is not None and balance >= 0
        assert balance == Decimal("3.00") - workers.total(ended.values())
        assert ledger.sessions() == [] and ledger.expire() == []  # no hold left open
        assert ledger.verify() == []
        for pool in ledger.pools(MONTH):
            assert pool["used"] <= pool["size"], pool


def test_eight_switches_with_auto_recharge(db_url: str, engine: policy.Engine) -> None:
    credits = {"balance": "3.00", "recharge_below": "2.00", "recharge_amount": "1.00"}
    data = tenant_data(credits=credits)
    tenant = policy.Tenant.from_dict(data)
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        ledger.init(month=MONTH)
    results = _run_switches(db_url, data, quota=120)
    assert [r["negative"] for r in results] == [[]] * WORKERS
    ended = {k: v for r in results for k, v in r["ended"].items()}
    # every recharge is reported by the grant that triggered it, at most one per session
    told = Counter(
        g["call"]
        for r in results
        for g in r["grants"]
        for e in g["events"]
        if e["type"] == "recharge_succeeded"
    )
    assert told and max(told.values()) == 1
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        history = ledger.history()
        recharges = [h for h in history if h["kind"] == "recharge"]
        assert Counter(h["call"] for h in recharges) == told  # exactly these, never two
        bought = sum((Decimal(h["amount"]) for h in recharges), Decimal(0))
        # each was called for: without it the hold would have taken the available balance
        # below the trigger (the grant's balance_after is net of every hold, the recharge in)
        for r in results:
            for g in r["grants"]:
                for e in g["events"]:
                    if e["type"] == "recharge_succeeded":
                        before = Decimal(g["balance_after"]) - Decimal(e["amount"])
                        assert before < Decimal("2.00"), g
        stored = {d.call: d.to_dict() for d in ledger.charged()}
        assert stored == ended
        for d in ended.values():  # a settlement never buys one: the hold paid for the call
            assert all(e["type"] != "recharge_succeeded" for e in d["events"])
        balance = ledger.balance().balance
        assert balance == Decimal("3.00") + bought - workers.total(ended.values())
        assert ledger.sessions() == [] and ledger.verify() == []


def test_sigkill_during_sessions_then_restart_and_resend(
    db_url: str, engine: policy.Engine, tmp_path: Path
) -> None:
    # pools big enough never to run out: settlement order then cannot move minutes around
    data = tenant_data(credits={"balance": "50.00", "funding": "one_time"}, usage=None)
    tenant = policy.Tenant.from_dict(data)
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        ledger.init(month=MONTH)
    ops = workers.session_script(200, seed=7)
    progress = str(tmp_path / "progress")
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(11)
    kills = 0
    for _ in range(KILLS):
        ready = ctx.Event()
        proc = ctx.Process(target=workers.worker_script, args=(db_url, data, ops, progress, ready))
        proc.start()
        assert ready.wait(60), "the switch did not start"
        proc.join(rng.uniform(0.0, 0.15))  # kill it wherever it is, often mid-transaction
        if proc.exitcode is None:
            proc.kill()
            kills += 1
        proc.join()
        with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
            assert ledger.verify() == []  # consistent after every crash
    assert kills >= min(KILLS, 20)
    ready = ctx.Event()
    proc = ctx.Process(target=workers.worker_script, args=(db_url, data, ops, progress, ready))
    proc.start()
    proc.join(600)
    assert proc.exitcode == 0
    ends = [(call_id, used) for action, call_id, used in ops if action == "end"]
    calls = {call_id: call for action, call_id, call in ops if action == "begin"}
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        stored = ledger.charged()
        assert sorted(d.call for d in stored) == sorted(c for c, _ in ends)  # each exactly once
        assert ledger.sessions() == [] and ledger.expire() == []  # no hold left behind
        assert ledger.verify() == []
        # nothing lost, nothing doubled: what eval gives the same calls, settled in order
        final = {c: u for c, u in ends}
        replay = list(
            engine.run([{**calls[d.call], "duration": final[d.call]} for d in stored], tenant)
        )
        assert [(d.cost, d.billable_seconds) for d in stored] == [
            (d.cost, d.billable_seconds) for d in replay
        ]
        assert ledger.balance().balance == replay[-1].balance_after
