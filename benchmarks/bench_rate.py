"""Batch-rating benchmark: ``ccpolicy rate`` end to end on a generated CSV of calls.

Run:  python benchmarks/bench_rate.py [--calls 1000000] [--keep DIR]

Generates N calls (≥ 100k distinct destinations at 1M: 10 countries, random subscriber
digits; users on every plan; meetings, voice apps, inbound toll-free), rates them with
the bundled rules into a usage-report CSV, and prints calls/s, the ratio to the *floor*
(reading and writing the same rows with the csv module alone) and peak memory (the
process's max RSS, and tracemalloc's peak in a separate smaller pass). Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

import policy
from policy.batch import rate

PREFIXES = [  # (prefix, subscriber digits): a realistic mix of domestic and international
    ("+1212", 7), ("+1416", 7), ("+1305", 7), ("+1787", 7), ("+4420", 8), ("+447", 9),
    ("+3314", 7), ("+336", 8), ("+4930", 8), ("+4915", 9), ("+813", 8), ("+612", 8),
    ("+55119", 8), ("+9198", 8), ("+97150", 7),
]  # fmt: skip
PLANS = [
    "domestic_calling_plan",
    "domestic_international_calling_plan",
    "pay_as_you_go_calling_plan",
    "domestic_calling_plan_120",
]


def tenant() -> policy.Tenant:
    users = [
        {
            "upn": f"user{i}@contoso.com",
            "usage_location": ["US", "CA", "GB", "DE", "PR"][i % 5],
            "licenses": [
                "teams_phone",
                PLANS[i % 4],
                "audio_conferencing",
                "communications_credits",
            ],
        }
        for i in range(500)
    ]
    return policy.Tenant.from_dict(
        {
            "tenant": "bench",
            "country": "US",
            "currency": "USD",
            "credits": {
                "balance": "1000.00",
                "funding": "auto_recharge",
                "recharge_below": "100.00",
                "recharge_amount": "500.00",
            },
            "admins": [{"email": "ann@contoso.com", "roles": ["billing_admin"]}],
            "users": users,
            "service_numbers": [
                {"number": "+18005550100", "type": "toll_free", "used_by": "auto_attendant"}
            ],
        }
    )


def generate(path: Path, n: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    step = timedelta(seconds=max(1, 30 * 86_400 // max(n, 1)))
    destinations: set[str] = set()
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "direction", "context", "user", "from", "to", "start", "duration"])
        when = start
        for i in range(n):
            kind = rng.random()
            prefix, digits = rng.choice(PREFIXES)
            to = prefix + str(rng.randrange(10 ** (digits - 1), 10**digits))
            user = f"user{rng.randrange(500)}@contoso.com"
            stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            duration = int(rng.expovariate(1 / 240))
            if kind < 0.75:
                row = [f"c{i}", "outbound", "user", user, "", to, stamp, duration]
            elif kind < 0.88:
                row = [f"c{i}", "outbound", "meeting", user, "", to, stamp, duration]
            elif kind < 0.94:
                row = [f"c{i}", "outbound", "call_queue", "", "", to, stamp, duration]
            else:
                caller = "+1206555" + f"{rng.randrange(10_000):04d}"
                row = [f"c{i}", "inbound", "auto_attendant", "", caller, "+18005550100",
                       stamp, duration]  # fmt: skip
            if i % 1000 == 999:
                row[0] = f"c{i - 500}"  # a repeated id now and then (SPEC ruling 15)
            destinations.add(str(row[5]))
            out.writerow(row)
            when += step
    return len(destinations)


def floor(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    with src.open(newline="", encoding="utf-8") as fin, dst.open("w", newline="") as fout:
        writer = csv.writer(fout)
        for row in csv.reader(fin):
            writer.writerow(row)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the generated files here")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench_rate."))
    folder.mkdir(parents=True, exist_ok=True)
    calls, out, copy = folder / "calls.csv", folder / "usage.csv", folder / "floor.csv"
    t0 = time.perf_counter()
    distinct = generate(calls, args.calls)
    size = calls.stat().st_size / 1e6
    print(f"generated {args.calls:,} calls ({distinct:,} distinct destinations, {size:,.0f} MB)"
          f" in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    engine = policy.load()
    t = tenant()
    engine.bind(t)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    summary = rate(engine, t, calls, out)
    elapsed = time.perf_counter() - t0
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor_s = min(floor(calls, copy) for _ in range(2))
    print(summary.line())
    print(f"rate: {elapsed:.1f} s · {args.calls / elapsed:,.0f} calls/s")
    print(f"floor (csv read + write only): {floor_s:.1f} s · {args.calls / floor_s:,.0f} rows/s")
    print(f"ratio to the floor: {elapsed / floor_s:.1f}× (target ≤ 3×)")
    print(f"peak RSS: {peak_rss:,.0f} MB (before rating {base_rss:,.0f} MB; target ≤ 150 MB)")
    sample = min(args.calls, 100_000)
    small = folder / "sample.csv"
    with calls.open(encoding="utf-8") as fin, small.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i > sample:
                break
            fout.write(line)
    tracemalloc.start()
    rate(policy.Engine(engine.policy, engine.ratecard), t, small, folder / "sample_out.csv")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"tracemalloc peak, {sample:,} calls: {peak / 1e6:,.1f} MB (Python allocations)")
    if not args.keep:
        for p in folder.iterdir():
            p.unlink()
        os.rmdir(folder)
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
