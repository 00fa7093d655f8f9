"""Ledger against its database: one-shot charges/s and begin+end pairs/s with 1 and 8
writers on SQLite and PostgreSQL, beside — in the same run, on the same server —
``pgbench -N -s 8`` at the same client counts and duration, and a bare SQLite loop doing
one INSERT per transaction with the ledger's journal mode (WAL) and ``synchronous=FULL``.

Run:  python benchmarks/bench_ledger_sessions.py [--seconds 10] [--postgres URL]

Each writer is a process with its own tenant (8 writers charge 8 tenants, one each) and
works for ``--seconds`` from a common start; the figure is all operations ÷ that time.
A begin+end pair counts as two transactions for the ratio to pgbench (reference rule R33).
pgbench initialises its own database (``bench_pgbench``, created if missing). Prints
figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import policy
from policy.ledger import Ledger

START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def tenant(w: int) -> dict[str, Any]:
    return {
        "tenant": f"bench{w}",
        "country": "US",
        "billing_country": "US",
        "currency": "USD",
        "credits": {"balance": "1000000.00", "funding": "one_time"},
        "admins": [{"email": "ann@bench.example", "roles": ["billing_admin"]}],
        "users": [
            {
                "upn": "u@bench.example",
                "usage_location": "US",
                "licenses": [
                    "teams_phone",
                    "pay_as_you_go_calling_plan",
                    "communications_credits",
                ],
            }
        ],
    }


def call(w: int, i: int, duration: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"w{w}-{i}",
        "direction": "outbound",
        "context": "user",
        "user": "u@bench.example",
        "to": "+442071838750" if i % 2 else "+12125551234",
        "start": (START + timedelta(seconds=i)).isoformat(),
    }
    if duration is not None:
        out["duration"] = duration
    return out


def writer(url: str, w: int, mode: str, seconds: float, go: Any) -> tuple[int, float]:
    with Ledger(url, engine=policy.load(), tenant=policy.Tenant.from_dict(tenant(w))) as led:
        led.authorize(call(w, 0, None))  # connected and warm before the clock starts
        go.wait()
        began = time.perf_counter()
        stop = began + seconds
        done = 0
        while time.perf_counter() < stop:
            if mode == "charge":
                led.charge(call(w, done, 60 + done % 600))
            else:
                led.begin(call(w, done, None))
                led.end(f"w{w}-{done}", used=60 + done % 240)
            done += 1
        return done, time.perf_counter() - began


def measure(url: str, writers: int, mode: str, seconds: float) -> float:
    for w in range(writers):
        with Ledger(url, tenant=policy.Tenant.from_dict(tenant(w))) as led:
            led.init(month="2026-03")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        go = manager.Event()
        with ctx.Pool(writers) as pool:
            work = [(url, w, mode, seconds, go) for w in range(writers)]
            pending = pool.starmap_async(writer, work)
            time.sleep(3.0 + writers * 0.5)  # every writer loads the rules and connects
            go.set()
            results = pending.get()
    return sum(n for n, _ in results) / max(t for _, t in results)


# ---- the yardsticks ---------------------------------------------------------------------


def _sqlite_bare(path: str, seconds: float, go: Any) -> int:
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    go.wait()
    stop = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < stop:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v, at) VALUES (?, ?)", (n, time.time()))
        db.execute("COMMIT")
        n += 1
    db.close()
    return n


def sqlite_bare(folder: str, writers: int, seconds: float) -> float:
    """One INSERT per transaction, WAL, synchronous=FULL: transactions/s."""
    path = os.path.join(folder, f"bare{writers}.db")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, at REAL)")
    db.close()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        go = manager.Event()
        with ctx.Pool(writers) as pool:
            pending = pool.starmap_async(_sqlite_bare, [(path, seconds, go)] * writers)
            time.sleep(1.0)
            go.set()
            return sum(pending.get()) / seconds


def pgbench(url: str, clients: int, seconds: float, *, initialised: set[str]) -> float | str:
    """``pgbench -N -s 8`` transactions/s (its own database ``bench_pgbench``)."""
    exe = shutil.which("pgbench")
    if exe is None:
        return "pgbench not installed (postgresql-contrib / postgresql-client)"
    parts = urlsplit(url)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", parts.username or "postgres"]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    if "bench_pgbench" not in initialised:
        subprocess.run(
            ["psql", *args, "-d", "postgres", "-qc", "CREATE DATABASE bench_pgbench"],
            env=env,
            capture_output=True,
        )
        done = subprocess.run(
            [exe, *args, "-i", "-q", "-s", "8", "bench_pgbench"],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode:
            return f"pgbench -i failed: {done.stderr.strip()[:200]}"
        initialised.add("bench_pgbench")
    run = subprocess.run(
        [
            exe,
            *args,
            "-N",
            "-c",
            str(clients),
            "-j",
            str(clients),
            "-T",
            str(int(seconds)),
            "bench_pgbench",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    if found is None:
        return f"pgbench failed: {(run.stderr or run.stdout).strip()[:200]}"
    return float(found.group(1))


def scratch_schema(url: str) -> tuple[str, str] | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3, autocommit=True) as conn:
            schema = f"ccp_bench_{uuid.uuid4().hex[:8]}"
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except Exception as exc:
        print(f"PostgreSQL at {url}: not available ({exc}); skipped")
        return None
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}", schema


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument(
        "--postgres", default=os.environ.get("CCPOLICY_TEST_POSTGRES", DEFAULT_POSTGRES)
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, ")
    print(f"load average {load:.1f}; {args.seconds:g} s per measurement")
    rows: list[tuple[str, int, str, str]] = []

    def report(backend: str, writers: int, what: str, value: float, base: float | str) -> None:
        ratio = f"{value / base:6.1%}" if isinstance(base, float) and base else "   n/a"
        rows.append((backend, writers, what, f"{value:8.0f} /s  ({ratio} of the yardstick)"))
        print(f"{backend:<10} {writers} writer(s)  {what:<28} {rows[-1][3]}", flush=True)

    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            for writers in (1, 8):
                bare = sqlite_bare(tmp, writers, args.seconds)
                print(
                    f"sqlite     {writers} writer(s)  bare INSERT loop (yardstick)  {bare:8.0f} /s"
                )
                charges = measure(f"sqlite:///{tmp}/c{writers}.db", writers, "charge", args.seconds)
                report("sqlite", writers, "one-shot charges", charges, bare)
                pairs = measure(f"sqlite:///{tmp}/p{writers}.db", writers, "pair", args.seconds)
                report("sqlite", writers, "begin+end pairs", pairs, bare / 2)
    if not args.skip_postgres:
        initialised: set[str] = set()
        for writers in (1, 8):
            base = pgbench(args.postgres, writers, args.seconds, initialised=initialised)
            text = f"{base:8.0f} /s" if isinstance(base, float) else base
            print(f"postgresql {writers} client(s)  pgbench -N -s 8 (yardstick)  {text}")
            for mode, what in (("charge", "one-shot charges"), ("pair", "begin+end pairs")):
                found = scratch_schema(args.postgres)
                if found is None:
                    break
                url, schema = found
                try:
                    value = measure(url, writers, mode, args.seconds)
                finally:
                    drop_schema(args.postgres, schema)
                yard = base / 2 if mode == "pair" and isinstance(base, float) else base
                report("postgresql", writers, what, value, yard)
    print("(ratios: charges ÷ yardstick transactions/s; pairs ÷ half of it, a pair = 2 tx)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
