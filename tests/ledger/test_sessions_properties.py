"""Property: sessions change *when* money is held, never *how much* a call costs.

For random sequences of begin / update / end / expire (with the clock moving) on one tenant
with one-time funding, the ledger's final balance and pool usage equal what ``eval``
computes for the same calls with their billed durations — clamp(used, last used, T) at
``end``, T at expiry — in the order they were settled; per call, cost, billable seconds
and payer equal ``eval``'s too. Both backends (a fresh tenant per example).
"""

from __future__ import annotations

import math
import os
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_support import MONTH, make_call, tenant_data

import policy
from policy.ledger import Ledger

EXAMPLES = int(os.environ.get("CCPOLICY_SESSION_EXAMPLES", "15"))
QUOTA = 120
GRACE = 60
DESTINATIONS = ["+442071838750", "+33142685300", "+4930123456", "+12125551234"]
USERS = ["pat@contoso.com", "alice@contoso.com"]

op = st.one_of(
    st.tuples(st.just("begin"), st.integers(0, 3), st.integers(0, 1)),
    st.tuples(st.just("update"), st.integers(0, 99), st.integers(1, 200)),
    st.tuples(st.just("end"), st.integers(0, 99), st.integers(0, 220)),
    st.tuples(st.just("expire"), st.integers(0, 400), st.just(0)),
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


class Session:
    def __init__(self, call: dict[str, Any], granted: int, now: datetime) -> None:
        self.call = call
        self.used = 0
        self.granted = granted
        self.expires = now + timedelta(seconds=granted + GRACE)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, min_size=1, max_size=30))
def test_sessions_cost_what_eval_says(
    db_url: str, engine: policy.Engine, ops: list[tuple[str, int, int]]
) -> None:
    data = tenant_data(
        tenant=f"t{uuid.uuid4().hex[:10]}",
        credits={"balance": "1.50", "funding": "one_time"},
        usage=None,
    )
    tenant = policy.Tenant.from_dict(data)
    clock = Clock()
    open_: dict[str, Session] = {}
    billed: dict[str, int] = {}
    calls: dict[str, dict[str, Any]] = {}
    with Ledger(
        db_url, engine=engine, tenant=tenant, clock=clock, quota=QUOTA, grace=GRACE
    ) as ledger:
        ledger.init(month=MONTH)

        def settle_overdue() -> None:  # what the next write does first
            for call_id, s in list(open_.items()):
                if s.expires <= clock.now:
                    billed[call_id] = s.granted
                    del open_[call_id]

        for n, (action, a, b) in enumerate(ops):
            if action == "expire":
                clock.now += timedelta(seconds=a)
                settle_overdue()
                ledger.expire()
                continue
            settle_overdue()
            if action == "begin":
                call = make_call(f"c{n}", to=DESTINATIONS[a], duration=None, user=USERS[b])
                grant = ledger.begin(call)
                if grant.permitted:
                    assert grant.decision.max_duration is not None
                    calls[call["id"]] = call
                    open_[call["id"]] = Session(call, grant.decision.max_duration, clock.now)
                continue
            if not open_:
                continue
            call_id = sorted(open_)[a % len(open_)]
            s = open_[call_id]
            if action == "update":
                used = min(s.used + b, s.granted)  # a switch respecting its grant
                if used == s.used:
                    continue
                grant = ledger.update(call_id, used=used)
                assert grant.decision.max_duration is not None
                s.used, s.granted = used, grant.decision.max_duration
                s.expires = clock.now + timedelta(seconds=(grant.seconds or 0) + GRACE)
            else:
                used = s.used + b  # may overrun the grant: billed no more than T
                decision = ledger.end(call_id, used=used)
                billed[call_id] = min(max(used, s.used), s.granted)
                assert decision.billable_seconds == billed[call_id]
                del open_[call_id]
        for call_id, s in list(open_.items()):  # hang up whatever is left
            settle_overdue()
            if call_id in open_:
                ledger.end(call_id, used=s.granted)
                billed[call_id] = s.granted
                del open_[call_id]

        stored = ledger.charged()
        assert sorted(d.call for d in stored) == sorted(billed)
        replay = list(
            engine.run([{**calls[d.call], "duration": billed[d.call]} for d in stored], tenant)
        )
        for mine, theirs in zip(stored, replay, strict=True):
            assert (mine.cost, mine.billable_seconds, mine.paid_by) == (
                theirs.cost,
                theirs.billable_seconds,
                theirs.paid_by,
            )
        spent = sum((d.cost or Decimal(0) for d in replay), Decimal(0))
        balance = ledger.balance().balance
        assert balance == Decimal("1.50") - spent and balance >= 0
        minutes: dict[str, int] = {}
        for d in replay:
            if d.pool and d.billable_seconds:
                minutes[d.pool] = minutes.get(d.pool, 0) + math.ceil(d.billable_seconds / 60)
        used_now = {p["pool"]: p["used"] for p in ledger.pools(MONTH) if p["used"]}
        assert used_now == minutes
        assert ledger.sessions() == [] and ledger.verify() == []
