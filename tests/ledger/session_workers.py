"""Worker processes of the session reliability tests (importable under spawn): switches
that begin, update and end sessions and respect their grants."""

from __future__ import annotations

import json
import os
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ledger_support import START, make_call

import policy
from policy.ledger import Ledger

DESTINATIONS = ["+442071838750", "+33142685300", "+4930123456", "+12125551234"]


def session_call(call_id: str, rng: random.Random, minute: int) -> dict[str, Any]:
    return make_call(
        call_id,
        to=rng.choice(DESTINATIONS),
        duration=None,
        user=rng.choice(["pat@contoso.com", "pat@contoso.com", "alice@contoso.com"]),
        start=START + timedelta(minutes=minute),
    )


def worker_sessions(
    url: str, tenant: dict[str, Any], prefix: str, count: int, seed: int, quota: int
) -> dict[str, Any]:
    """Run ``count`` sessions, up to four at a time, in a random interleaving; use every
    grant honestly (report at most T, end at most at T). After every operation read the
    balance: it must never be below zero. Returns what the ledger answered."""
    rng = random.Random(seed)
    engine = policy.load()
    out: dict[str, Any] = {"ended": {}, "grants": [], "negative": [], "denied": 0}
    active: dict[str, list[int]] = {}  # call id → [used, T, final]
    begun = 0
    with Ledger(url, engine=engine, tenant=policy.Tenant.from_dict(tenant), quota=quota) as led:
        while begun < count or active:
            choice = rng.random()
            if begun < count and (not active or (len(active) < 4 and choice < 0.4)):
                call_id = f"{prefix}{begun}"
                grant = led.begin(session_call(call_id, rng, begun))
                begun += 1
                out["grants"].append(grant.to_dict())
                if grant.permitted:
                    t = grant.decision.max_duration
                    active[call_id] = [0, -1 if t is None else t, int(grant.final)]
                else:
                    out["denied"] += 1
            else:
                call_id = rng.choice(sorted(active))
                used, t, final = active[call_id]
                top = used + quota if t < 0 else t
                if final or rng.random() < 0.45 or top == used:
                    end_at = rng.randint(used, top)
                    decision = led.end(call_id, used=end_at)
                    out["ended"][call_id] = decision.to_dict()
                    del active[call_id]
                else:
                    now_used = rng.randint(used + 1, top)
                    grant = led.update(call_id, used=now_used)
                    out["grants"].append(grant.to_dict())
                    t2 = grant.decision.max_duration
                    active[call_id] = [now_used, -1 if t2 is None else t2, int(grant.final)]
            balance = led.authorize(make_call("probe", duration=None)).balance_after
            if balance is not None and balance < 0:
                out["negative"].append(str(balance))
    return out


def session_script(count: int, seed: int) -> list[tuple[str, str, Any]]:
    """A fixed switch script: sessions begun two at a time, updated, ended."""
    rng = random.Random(seed)
    ops: list[tuple[str, str, Any]] = []
    for i in range(0, count, 2):
        pair = [f"k{i}", f"k{i + 1}"]
        for n, call_id in enumerate(pair):
            ops.append(("begin", call_id, session_call(call_id, rng, i + n)))
        for call_id in pair:
            ops.append(("update", call_id, rng.randint(1, 150)))
        for call_id in pair:
            ops.append(("end", call_id, rng.randint(150, 300)))
    return ops


def worker_script(
    url: str, tenant: dict[str, Any], ops: list[tuple[str, str, Any]], progress: str, ready: Any
) -> None:
    """Play ``ops`` from the last one recorded in ``progress`` (re-sending it: it may have
    been cut off), recording each as done; the parent kills us wherever we are."""
    engine = policy.load()
    start = 0
    if os.path.exists(progress):
        with open(progress, encoding="utf-8") as f:
            text = f.read().strip()
        start = int(text) if text else 0
    with Ledger(url, engine=engine, tenant=policy.Tenant.from_dict(tenant), quota=300) as led:
        led.sessions()  # connected: the parent may kill us from now on
        ready.set()
        for n in range(start, len(ops)):
            action, call_id, arg = ops[n]
            if action == "begin":
                led.begin(arg)
            elif action == "update":
                led.update(call_id, used=arg)
            else:
                led.end(call_id, used=arg)
            with open(progress, "w", encoding="utf-8") as f:
                f.write(str(n))  # this op is done; a restart re-sends it (idempotent)


def total(decisions: Any) -> Decimal:
    return sum((Decimal(d["cost"]["amount"]) for d in decisions if d.get("cost")), Decimal(0))


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
