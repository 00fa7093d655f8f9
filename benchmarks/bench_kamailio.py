"""The policy check in a real switch: Kamailio + `ccpolicy serve` + SIPp, on 127.0.0.1.

Run:  python benchmarks/bench_kamailio.py [--calls N] [--rate R] [--hold-ms MS] [--workers W]
      (needs kamailio, kamailio-utils-modules, kamailio-extra-modules, sip-tester)

1. **Post-dial delay added by the check.** The same proxy (examples/kamailio/) twice: with
   the check, and built with ``-A NO_CCPOLICY`` (no ``http_client`` call, dialog kept).
   SIPp's response-time statistic (``rtd``, ``-trace_rtt``) is the time from the caller's
   INVITE to the first response it gets (provisional or final) — with the check that
   response comes after ``POST …/sessions`` answered. Printed: median, p95, p99, max.
2. **Calls per second with the check.** N calls offered at R calls/s (bounded: SIPp's
   ``-r``), each answered by the SIPp callee, held ``--hold-ms``, ended by the caller:
   every call is a ``begin`` and an ``end`` on the service (and a SQLite ledger write
   each). Printed: the rate achieved over the whole run and how many calls failed.

The ledger is SQLite (the service's default); the tenant is funded far beyond the run,
so no call is refused. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from e2e_switch import (  # noqa: E402 - the switch harness lives with the e2e tests
    Processes,
    missing_switch,
    run_caller,
    service_argv,
    start_callee,
    start_kamailio,
    start_service,
    tenant_yaml,
    write_rules,
)

TENANT = "bench"
NUMBER = "+442071838750"


def rtt_values(workdir: Path, name: str) -> list[float]:
    """Response times (ms) SIPp wrote with -trace_rtt for the caller scenario ``name``."""
    values: list[float] = []
    for path in workdir.glob(f"{name}_*_rtt.csv"):
        with path.open(newline="") as handle:
            for row in csv.reader(handle, delimiter=";"):
                if len(row) >= 2:
                    try:
                        values.append(float(row[1]))
                    except ValueError:
                        continue  # the header
    return values


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"n={len(values)} median {statistics.median(values):.2f} ms, "
        f"p95 {percentile(values, 0.95):.2f} ms, p99 {percentile(values, 0.99):.2f} ms, "
        f"max {max(values):.2f} ms"
    )


def measure(calls: int, rate: int, hold_ms: int, workers: int = 1) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-kamailio-"))
    rules = write_rules(workdir / "rules")
    tenant = workdir / f"{TENANT}.yaml"
    tenant.write_text(tenant_yaml(TENANT, "1000000.00"))
    ledger_url = f"sqlite:///{workdir / 'ledger.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    procs = Processes(workdir)
    results: dict[str, object] = {}
    try:
        argv = [*service_argv(rules, [tenant], ledger_url, quota=300), "--workers", str(workers)]
        service = start_service(procs, argv, env)
        callee_port, _ = start_callee(procs)
        proxies = {
            "with the check": start_kamailio(
                procs, service_url=service, tenant=TENANT, gateway_port=callee_port
            ),
            "without (NO_CCPOLICY)": start_kamailio(
                procs,
                service_url=service,
                tenant=TENANT,
                gateway_port=callee_port,
                extra_defines=["NO_CCPOLICY"],
            ),
        }
        # warm-up: the service's first decisions, curl's first connections
        for port in proxies.values():
            run_caller(
                workdir,
                proxy_port=port,
                number=NUMBER,
                user="alice",
                domain=f"{TENANT}.example",
                hold_ms=hold_ms,
                calls=10,
                rate=10,
                name="warmup",
            )
        for (label, port), name in zip(proxies.items(), ("pdd_check", "pdd_none"), strict=True):
            started = time.monotonic()
            run = run_caller(
                workdir,
                proxy_port=port,
                number=NUMBER,
                user="alice",
                domain=f"{TENANT}.example",
                hold_ms=hold_ms,
                calls=calls,
                rate=rate,
                timeout=calls / rate + 60,
                name=name,
                extra=["-trace_rtt", "-rtt_freq", "1"],
            )
            elapsed = time.monotonic() - started
            answered = sum(1 for log in run.calls.values() if log.answered)
            delays = rtt_values(workdir, name)
            # the same from the caller's own clock (gettimeofday, microseconds): INVITE to
            # the first response, and INVITE to the callee's 180 Ringing
            first, ringing = [], []
            for log in run.calls.values():
                sent = log.events.get("invite")
                answers = [
                    log.events[e]
                    for e in ("trying", "ringing", "answered", "refused")
                    if e in log.events
                ]
                if sent is not None and answers:
                    first.append((min(answers) - sent) * 1000)
                if sent is not None and "ringing" in log.events:
                    ringing.append((log.events["ringing"] - sent) * 1000)
            results[label] = {
                "post_dial_delay": summary(delays),
                "first_response_clock": summary(first),
                "ringing_clock": summary(ringing),
                "median_clock_ms": statistics.median(first) if first else None,
                "median_ms": statistics.median(delays) if delays else None,
                "answered": answered,
                "offered": calls,
                "failed": calls - answered,
                "calls_per_second": answered / elapsed,
                "sipp_exit": run.returncode,
            }
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per proxy (default 300)")
    parser.add_argument("--rate", type=int, default=30, help="calls offered per second")
    parser.add_argument("--hold-ms", type=int, default=200, help="how long each call lasts")
    parser.add_argument("--workers", type=int, default=1, help="service processes (default 1)")
    args = parser.parse_args()
    problem = missing_switch()
    if problem:
        sys.exit(f"bench_kamailio: {problem}")
    results = measure(args.calls, args.rate, args.hold_ms, args.workers)
    print(
        f"Kamailio + ccpolicy serve ({args.workers} worker(s), SQLite) + SIPp, "
        f"{args.calls} calls at {args.rate}/s each, held {args.hold_ms} ms"
    )
    for label, figures in results.items():
        assert isinstance(figures, dict)
        print(f"  {label}:")
        print(f"    INVITE -> first response (SIPp rtd): {figures['post_dial_delay']}")
        print(f"    INVITE -> first response (caller clock): {figures['first_response_clock']}")
        print(f"    INVITE -> 180 Ringing (caller clock): {figures['ringing_clock']}")
        print(
            f"    {figures['answered']}/{figures['offered']} answered, "
            f"{figures['calls_per_second']:.1f} calls/s over the run, "
            f"SIPp exit {figures['sipp_exit']}"
        )
    with_check = results["with the check"]
    without = results["without (NO_CCPOLICY)"]
    assert isinstance(with_check, dict) and isinstance(without, dict)
    if with_check["median_ms"] is not None and without["median_ms"] is not None:
        added = float(with_check["median_ms"]) - float(without["median_ms"])
        print(f"  post-dial delay added by the check (median of SIPp rtd): {added:.2f} ms")
    if with_check["median_clock_ms"] is not None and without["median_clock_ms"] is not None:
        added = float(with_check["median_clock_ms"]) - float(without["median_clock_ms"])
        print(f"  post-dial delay added by the check (median, caller clock): {added:.2f} ms")


if __name__ == "__main__":
    main()
