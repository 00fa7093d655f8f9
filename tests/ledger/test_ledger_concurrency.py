"""Reliability: 8 processes charging one tenant at once; a charging process killed with
SIGKILL again and again. Both backends."""

from __future__ import annotations

import multiprocessing
import os
import random
from collections import defaultdict
from decimal import Decimal

import ledger_support as support
from ledger_support import MONTH, random_calls, tenant_data

import policy
from policy.ledger import Ledger

WORKERS = 8
# CI sets thousands (the figure); a developer's run keeps the default quick.
PER_WORKER = int(os.environ.get("CCPOLICY_LEDGER_CALLS_PER_WORKER", "120"))
SHARED = 30  # call ids every worker submits (concurrent retries of the same call)


def test_eight_processes_charge_one_tenant(db_url: str, engine: policy.Engine) -> None:
    data = tenant_data()
    tenant = policy.Tenant.from_dict(data)
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        ledger.init(month=MONTH)
    shared = random_calls("s", SHARED, seed=99)
    work = []
    for w in range(WORKERS):
        own = random_calls(f"w{w}-", PER_WORKER, seed=w)
        calls = own + shared
        random.Random(1000 + w).shuffle(calls)
        work.append((db_url, data, calls, 9))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(WORKERS) as pool:
        results = pool.starmap(support.worker_charge, work)

    answers: dict[str, list[dict[str, object]]] = defaultdict(list)
    for result in results:
        for call_id, decision in result:
            answers[call_id].append(decision)
    unique = WORKERS * PER_WORKER + SHARED
    assert len(answers) == unique
    for call_id, seen in answers.items():  # every submission of an id got the same answer
        assert all(d == seen[0] for d in seen), call_id

    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        stored = ledger.charged()
        assert len(stored) == unique  # no call charged twice
        assert {d.call: d.to_dict() for d in stored} == {k: v[0] for k, v in answers.items()}
        charges = sum((d.cost or Decimal(0) for d in stored), Decimal(0))
        recharges = [e for d in stored for e in d.events if e.type == "recharge_succeeded"]
        recharged = sum((e.amount or Decimal(0) for e in recharges), Decimal(0))
        balance = ledger.balance().balance
        assert balance == Decimal("20.00") + recharged - charges
        assert ledger.verify() == []
        # serialisable: the committed order, replayed by the in-memory engine, decides the
        # same — so exactly one recharge per threshold crossing, never one per process
        calls = {c["id"]: c for w in work for c in w[2]}
        replay = list(engine.run([calls[d.call] for d in stored], tenant))
        assert [d.to_dict() for d in replay] == [d.to_dict() for d in stored]
        assert len(recharges) >= 2
        for pool in ledger.pools(MONTH):  # pools never over-drawn
            assert pool["used"] <= pool["size"], pool


def test_sigkill_at_random_points_then_restart(db_url: str, engine: policy.Engine) -> None:
    data = tenant_data()
    tenant = policy.Tenant.from_dict(data)
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        ledger.init(month=MONTH)
    calls = random_calls("k", 300, seed=5)
    ctx = multiprocessing.get_context("spawn")
    rng = random.Random(2024)
    progress = []
    for _ in range(4):
        ready = ctx.Event()
        proc = ctx.Process(target=support.worker_crash, args=(db_url, data, calls, ready))
        proc.start()
        assert ready.wait(60), "the charging process did not start"
        # let it charge for a while, then kill it wherever it is (often mid-transaction)
        proc.join(rng.uniform(0.05, 0.8))
        proc.kill()
        proc.join()
        assert proc.exitcode == -9
        with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
            assert ledger.verify() == []  # consistent after every crash
            progress.append(len(ledger.charged()))
    assert progress[-1] >= 1
    with Ledger(db_url, engine=engine, tenant=tenant) as ledger:
        answers = [ledger.submit(c) for c in calls]  # re-submit everything
        assert sum(not a.replayed for a in answers) == len(calls) - progress[-1]
        stored = ledger.charged()
        assert [d.call for d in stored] == [c["id"] for c in calls]  # each exactly once
        expected = list(engine.run(calls, tenant))
        assert [d.to_dict() for d in stored] == [d.to_dict() for d in expected]
        assert ledger.verify() == []
        charges = sum((d.cost or Decimal(0) for d in stored), Decimal(0))
        recharged = sum(
            (e.amount or 0 for d in stored for e in d.events if e.type == "recharge_succeeded"),
            Decimal(0),
        )
        assert ledger.balance().balance == Decimal("20.00") + recharged - charges
