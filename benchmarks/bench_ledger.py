"""Ledger benchmark: charges per second with 1 and 8 concurrent writers (processes) on
SQLite and on PostgreSQL.

Run:  python benchmarks/bench_ledger.py [--calls N] [--postgres URL]

Each writer charges N distinct calls (credits calls, some triggering auto-recharges) into
one tenant; the figure is all charges ÷ the wall time from the first to the last charge
(process start-up excluded). PostgreSQL is used when ``--postgres`` / $CCPOLICY_TEST_POSTGRES
answers (a scratch schema, dropped afterwards). Prints figures; asserts nothing.
``benchmarks/run.py`` calls :func:`measure_ledger`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import policy
from policy.ledger import Ledger

TENANT: dict[str, Any] = {
    "tenant": "bench",
    "country": "US",
    "billing_country": "US",
    "currency": "USD",
    "credits": {
        "balance": "100.00",
        "funding": "auto_recharge",
        "recharge_below": "20.00",
        "recharge_amount": "100.00",
        "payment": "ok",
    },
    "admins": [{"email": "ann@bench.example", "roles": ["billing_admin"]}],
    "users": [
        {
            "upn": "u@bench.example",
            "usage_location": "US",
            "licenses": ["teams_phone", "pay_as_you_go_calling_plan", "communications_credits"],
        }
    ],
}
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def writer(url: str, w: int, n: int, go: Any) -> tuple[float, float]:
    ledger = Ledger(url, engine=policy.load(), tenant=policy.Tenant.from_dict(TENANT))
    calls = [
        {
            "id": f"w{w}-{i}",
            "direction": "outbound",
            "context": "user",
            "user": "u@bench.example",
            "to": "+442071838750" if i % 2 else "+12125551234",
            "start": (START + timedelta(seconds=i)).isoformat(),
            "duration": 60 + i % 600,
        }
        for i in range(n)
    ]
    ledger.authorize(calls[0])  # connect before the clock starts
    go.wait()
    began = time.perf_counter()
    for call in calls:
        ledger.charge(call)
    ended = time.perf_counter()
    ledger.close()
    return began, ended


def measure(url: str, writers: int, n: int) -> float:
    with Ledger(url, tenant=policy.Tenant.from_dict(TENANT)) as ledger:
        ledger.init(month="2026-03")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        go = manager.Event()
        with ctx.Pool(writers) as pool:
            pending = pool.starmap_async(writer, [(url, w, n, go) for w in range(writers)])
            time.sleep(3.0 + writers * 0.5)  # let every writer load the rules and connect
            go.set()
            spans = pending.get()
    wall = max(e for _, e in spans) - min(b for b, _ in spans)
    return writers * n / wall


def postgres(url: str) -> tuple[str, str] | None:
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


DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def measure_ledger(n: int, postgres_url: str | None) -> dict[str, float | str]:
    """Charges/s for 1 and 8 writers on SQLite, and on PostgreSQL when ``postgres_url``
    answers (keys ``sqlite_1``, ``sqlite_8``, ``postgresql_1``, ``postgresql_8``;
    ``postgresql_skipped`` says why it was not measured)."""
    out: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for writers in (1, 8):
            out[f"sqlite_{writers}"] = measure(f"sqlite:///{tmp}/bench{writers}.db", writers, n)
    if not postgres_url:
        out["postgresql_skipped"] = "no URL"
        return out
    for writers in (1, 8):
        found = postgres(postgres_url)
        if found is None:
            out["postgresql_skipped"] = f"{postgres_url} did not answer"
            break
        url, schema = found
        try:
            out[f"postgresql_{writers}"] = measure(url, writers, n)
        finally:
            import psycopg

            with psycopg.connect(postgres_url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per writer")
    parser.add_argument(
        "--postgres", default=os.environ.get("CCPOLICY_TEST_POSTGRES", DEFAULT_POSTGRES)
    )
    args = parser.parse_args()
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"{args.calls} charges per writer")
    figures = measure_ledger(args.calls, args.postgres)
    for backend in ("sqlite", "postgresql"):
        for writers in (1, 8):
            value = figures.get(f"{backend}_{writers}")
            if isinstance(value, float):
                print(f"{backend:<11} {writers} writer(s): {value:8.0f} charges/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
