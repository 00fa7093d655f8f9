"""Batch-rating benchmark: ``ccpolicy rate`` end to end on a generated CSV of calls.

Run:  python benchmarks/bench_rate.py [--calls 1000000] [--keep DIR]

Generates N calls (≥ 100k distinct destinations at 1M: 10 countries, random subscriber
digits; users on every plan; meetings, voice apps, inbound toll-free), rates them with
the bundled rules into a usage-report CSV, and prints calls/s, the ratio to the *floor*
(reading and writing the same rows with the csv module alone), the per-call cost once
numbers are classified, and peak memory (the max RSS of a fresh process that only loads
the rules and rates — the generator's memory is not counted —, and tracemalloc's peak
in a separate smaller pass). Prints figures; asserts nothing. ``benchmarks/run.py``
calls :func:`measure_batch`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from hashlib import blake2b
from pathlib import Path
from typing import Any

import policy
from policy.rating.batch import rate

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
                row[0] = f"c{i - 500}"  # a repeated id now and then (reference rule R15)
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


def minimal(src: Path, dst: Path) -> float:
    """The least any rating of these rows must do, with no engine at all: parse each row's
    time and duration, one dict probe for its number, a stable hashed id, and a line of
    the report's 27 columns written in batches. What rating costs above this is the
    engine's work (classifying numbers, choosing the route, pools, credits, prices)."""
    t0 = time.perf_counter()
    key = blake2b(digest_size=16, key=b"bench")
    classes: dict[str, tuple[str, str, str]] = {}
    with src.open(newline="", encoding="utf-8") as fin, dst.open("w", newline="") as fout:
        rows = csv.reader(fin)
        next(rows)
        lines: list[str] = []
        for call_id, _direction, context, user, caller, to, start, duration in rows:
            seconds = int(duration)
            when = datetime.fromisoformat(start)
            kind = classes.get(to[:5])
            if kind is None:
                kind = classes[to[:5]] = ("fixed_line", "International", "US")
            h = key.copy()
            h.update(call_id.encode())
            x = h.hexdigest()
            lines.append(
                f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]},{call_id},,{user},,{caller},"
                f"{context},{kind[0]},{kind[1]},{kind[2]},{to},{start},{when.hour},{seconds},"
                f"0.00,0.00,USD,MCOPSTN1,true,plan,pool,,100.00,scenario,{seconds}\r\n"
            )
            if len(lines) >= 512:
                fout.write("".join(lines))
                lines.clear()
        fout.write("".join(lines))
    return time.perf_counter() - t0


def _rate_child(calls: Path, out: Path, warm: int) -> dict[str, Any]:
    """Rate ``calls`` in this (fresh) process: its peak RSS is the rating's alone. Then,
    with ``warm`` > 0, rate the first ``warm`` calls again: their numbers are classified
    by then, so that pass is the per-call cost without ``phonenumbers``."""
    engine = policy.load()
    t = tenant()
    engine.bind(t)
    result: dict[str, Any] = {"rss_before_mb": _peak_rss_mb()}
    t0 = time.perf_counter()
    summary = rate(engine, t, calls, out)
    result["rate_s"] = time.perf_counter() - t0
    result["rss_peak_mb"] = _peak_rss_mb()
    result["summary"] = summary.line()
    if warm:
        small = _head(calls, warm, out.with_name("warm.csv"))
        for _ in range(2):  # the first pass classifies what the big run's caches evicted
            t0 = time.perf_counter()
            rate(engine, t, small, out.with_name("warm_out.csv"))
            result["warm_s"] = time.perf_counter() - t0
        result["warm_n"] = warm
    return result


def _peak_rss_mb() -> float:
    """This process's peak RSS in MB: Linux's VmHWM (reset by exec, unlike ru_maxrss,
    which a child started by fork + exec inherits from its parent), else ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _head(calls: Path, n: int, dst: Path) -> Path:
    """The header and first ``n`` rows of ``calls``, written to ``dst``."""
    with calls.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i > n:
                break
            fout.write(line)
    return dst


def measure_batch(
    n: int, folder: Path | None = None, *, sample: int = 0, warm: int = 0
) -> dict[str, Any]:
    """Generate ``n`` calls, rate them in a fresh child process (``rate_s``, and that
    process's peak RSS ``rss_peak_mb`` — the generator's memory is not counted), time
    the csv floor here. ``sample`` > 0 also rates the first ``sample`` calls again under
    tracemalloc; ``warm`` > 0 times ``warm`` calls whose numbers are classified."""
    keep = folder is not None
    folder = folder or Path(tempfile.mkdtemp(prefix="bench_rate."))
    folder.mkdir(parents=True, exist_ok=True)
    calls, out, copy = folder / "calls.csv", folder / "usage.csv", folder / "floor.csv"
    t0 = time.perf_counter()
    distinct = generate(calls, n)
    result: dict[str, Any] = {
        "calls": n,
        "distinct": distinct,
        "size_mb": calls.stat().st_size / 1e6,
        "generate_s": time.perf_counter() - t0,
    }
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(calls), str(out), str(warm)],
        check=True,
        capture_output=True,
        text=True,
    )
    result.update(json.loads(child.stdout))
    result["floor_s"] = min(floor(calls, copy) for _ in range(2))
    result["minimal_s"] = min(minimal(calls, copy) for _ in range(2))
    if sample:
        sample = min(n, sample)
        small = _head(calls, sample, folder / "sample.csv")
        engine = policy.load()
        t = tenant()
        tracemalloc.start()
        rate(engine, t, small, folder / "sample_out.csv")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["sample"] = sample
        result["tracemalloc_mb"] = peak / 1e6
    if not keep:
        for p in folder.iterdir():
            p.unlink()
        os.rmdir(folder)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="DIR", help="keep the generated files here")
    parser.add_argument(
        "--child", nargs=3, metavar=("CALLS", "OUT", "WARM"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        calls, out, warm = args.child
        print(json.dumps(_rate_child(Path(calls), Path(out), int(warm))))
        return
    n = args.calls
    warm = min(n, 50_000)
    r = measure_batch(n, Path(args.keep) if args.keep else None, sample=100_000, warm=warm)
    print(f"generated {n:,} calls ({r['distinct']:,} distinct destinations, {r['size_mb']:,.0f} MB)"
          f" in {r['generate_s']:.1f} s")  # fmt: skip
    print(r["summary"])
    print(f"rate: {r['rate_s']:.1f} s · {n / r['rate_s']:,.0f} calls/s")
    print(f"floor (csv read + write only): {r['floor_s']:.1f} s · {n / r['floor_s']:,.0f} rows/s")
    print(f"ratio to the floor: {r['rate_s'] / r['floor_s']:.1f}× (target ≤ 3×)")
    print(f"minimal pipeline (no engine): {r['minimal_s'] / r['floor_s']:.1f}× the floor")
    print(f"peak RSS of the rating process: {r['rss_peak_mb']:,.0f} MB (after loading the rules"
          f" {r['rss_before_mb']:,.0f} MB; target ≤ 150 MB)")  # fmt: skip
    warm_us = r["warm_s"] / r["warm_n"] * 1e6
    floor_us = r["floor_s"] / n * 1e6
    print(f"numbers already classified ({r['warm_n']:,} calls again): {warm_us:.1f} µs a call,"
          f" {warm_us / floor_us:.1f}× the floor's {floor_us:.1f} µs a row")  # fmt: skip
    print(f"tracemalloc peak, {r['sample']:,} calls: {r['tracemalloc_mb']:,.1f} MB"
          " (Python allocations)")  # fmt: skip
    print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
