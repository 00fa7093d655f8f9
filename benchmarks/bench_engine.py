"""Engine benchmark: rules load time and evaluate latency on the bundled rules.

Run:  python benchmarks/bench_engine.py [--calls N]

Prints figures; asserts nothing (targets live in the issue and BENCHMARKS.md).
``benchmarks/run.py`` calls :func:`measure_evaluate` and :func:`cold_load_ms`.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import policy
import policy.data.numbers
from policy.data.call import Call

DESTINATIONS = [
    "+12125551234",
    "+14165550123",
    "+17875550100",
    "+442071838750",
    "+33142685300",
    "+4930123456",
    "+390612345678",
    "+81312345678",
    "+61212345678",
    "+5511987654321",
    "+971501234567",
    "+2348012345678",
    "+19005550100",
    "+18005550100",
    "+911",
    "+4915112345678",
]


def tenant_data(users: list[dict[str, Any]]) -> dict[str, Any]:
    """A well-funded US tenant on auto-recharge with these users (shared by the benchmarks)."""
    return {
        "tenant": "bench",
        "country": "US",
        "currency": "USD",
        "credits": {
            "balance": "1000000.00",
            "funding": "auto_recharge",
            "recharge_below": "100.00",
            "recharge_amount": "500.00",
        },
        "admins": [{"email": "ann@contoso.com", "roles": ["billing_admin"]}],
        "users": users,
    }


def tenant() -> policy.Tenant:
    users = []
    plans = [
        "domestic_calling_plan",
        "domestic_international_calling_plan",
        "pay_as_you_go_calling_plan",
        "domestic_calling_plan_120",
    ]
    for i in range(200):
        users.append(
            {
                "upn": f"user{i}@contoso.com",
                "usage_location": ["US", "CA", "GB", "DE", "PR"][i % 5],
                "licenses": [
                    "teams_phone",
                    plans[i % 4],
                    "audio_conferencing",
                    "communications_credits",
                ],
            }
        )
    return policy.Tenant.from_dict(tenant_data(users))


def calls(n: int, rng: random.Random, distinct: int) -> list[Call]:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=timezone(timedelta(hours=-5)))
    out = []
    for i in range(n):
        kind = rng.random()
        user = f"user{rng.randrange(200)}@contoso.com"
        if kind < 0.7:
            to = rng.choice(DESTINATIONS[:12])
            if distinct:
                # vary the subscriber digits: same classes, many distinct numbers
                to = to[:-4] + f"{rng.randrange(distinct) % 10000:04d}"
            out.append(
                Call(
                    f"c{i}",
                    "outbound",
                    to,
                    start + timedelta(seconds=i),
                    "user",
                    user,
                    None,
                    rng.randrange(1, 1800),
                )
            )
        elif kind < 0.85:
            out.append(
                Call(
                    f"c{i}",
                    "outbound",
                    rng.choice(DESTINATIONS[:8]),
                    start,
                    "meeting",
                    user,
                    None,
                    rng.randrange(60, 3600),
                )
            )
        else:
            out.append(
                Call(
                    f"c{i}",
                    "inbound",
                    "+18005550100",
                    start,
                    "auto_attendant",
                    None,
                    "+12065550199",
                    rng.randrange(10, 900),
                )
            )
    return out


def clear_number_caches() -> None:
    """Empty every memo in policy.data.numbers (``_classify_e164``, ``_classify_short``, …)."""
    for name in dir(policy.data.numbers):
        clear = getattr(getattr(policy.data.numbers, name), "cache_clear", None)
        if callable(clear):
            clear()


def timings(engine: policy.Engine, t: policy.Tenant, batch: list[Call]) -> list[float]:
    out = []
    clock = time.perf_counter_ns
    for call in batch:
        t0 = clock()
        engine.evaluate(call, t)
        out.append((clock() - t0) / 1000)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def cold_load_ms(runs: int = 7) -> float:
    code = (
        "import time; t=time.perf_counter(); import policy; policy.load(); "
        "print((time.perf_counter()-t)*1000)"
    )
    samples = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)
    ]
    return statistics.median(samples)


def measure_evaluate(n: int = 20000, seed: int = 7) -> dict[str, list[float]]:
    """Per-call evaluate times (µs) on the bundled rules: cold number caches and a fresh
    engine (no memoised routes), then the same calls warm (the middle of three passes);
    and authorizations (calls without a duration), warm."""
    engine = policy.load()
    t = tenant()
    engine.bind(t)
    batch = calls(n, random.Random(seed), distinct=5000)
    fresh = policy.Engine(engine.policy, engine.ratecard)
    fresh.bind(t)
    clear_number_caches()
    cold = timings(fresh, t, batch)
    # Warm: three passes; keep the one with the middle median (a loaded machine's noise).
    passes = sorted((timings(fresh, t, batch) for _ in range(3)), key=statistics.median)
    warm = passes[1]
    auth = [
        Call(c.id, c.direction, c.to, c.start, c.context, c.user, c.from_, None)
        for c in batch[:2000]
    ]
    timings(fresh, t, auth)
    return {"cold": cold, "warm": warm, "authorize": timings(fresh, t, auth)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=20000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} · "
        f"Python {platform.python_version()}"
    )
    print(f"bundled rules load, cold process (median of 7): {cold_load_ms():.1f} ms")
    t0 = time.perf_counter()
    engine = policy.load()
    print(f"bundled rules load, warm process: {(time.perf_counter() - t0) * 1000:.1f} ms")
    times = measure_evaluate(args.calls)
    for label, key in (("cold caches", "cold"), ("warm caches", "warm")):
        values = times[key]
        print(
            f"evaluate, {label} ({len(values)} calls): median {statistics.median(values):.1f} µs"
            f" · p99 {pct(values, 0.99):.1f} µs"
        )
    t = tenant()
    batch = calls(args.calls, random.Random(7), distinct=5000)
    t0 = time.perf_counter()
    decisions = list(engine.run(batch, t))
    elapsed = time.perf_counter() - t0
    print(f"run (stateful, in order): {len(decisions) / elapsed:,.0f} calls/s")
    auth_times = times["authorize"]
    print(
        f"authorize (max_duration), warm: median {statistics.median(auth_times):.1f} µs"
        f" · p99 {pct(auth_times, 0.99):.1f} µs"
    )


if __name__ == "__main__":
    main()
