"""Service benchmark: requests/s and p50/p99 latency of ``ccpolicy serve`` on loopback.

Run:  python benchmarks/bench_serve.py [--duration S] [--workers 1 2] [--connections C]

For 1 and 2 workers it starts a real server (``--port 0``, a scratch SQLite ledger, the
example tenant) and drives it with wrk (Debian's ``wrk`` package; an async httpx client
when wrk is missing):

* ``noop``   — ``GET /healthz``, the same server's do-nothing JSON route (the floor);
* ``decide`` — ``POST /v1/tenants/contoso/decide``, an authorization read from the ledger;
* ``pair``   — ``POST …/sessions`` then ``POST …/sessions/{id}/end``: begin+end pairs,
  each with a new call id (two ledger writes per pair), always driven by the async httpx
  client (wrk cannot keep a begin and its end on one connection, in order).

Each runs closed-loop at full speed (the peak), then paced at half that peak rate, where
the p99 is read. Targets (the issue's): decide ≥ 60% of noop's requests/s; p99 ≤ 5 ms at
half peak. Then, in-process: ``engine.evaluate`` of a plain dict against a ``policy.Call``
(target: ≤ 1.5×, ≤ 5 µs median). Load generator and server share this machine's cores.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CALL = {
    "id": "b1",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "to": "+442071838750",
    "start": "2026-11-02T09:00:00-05:00",
}

# wrk scripts: each prints one JSON line at the end (requests, seconds, p50/p99 in µs).
_DONE = """
function done(summary, latency, requests)
  io.write(string.format('{"requests": %d, "seconds": %.3f, "p50": %d, "p99": %d, '
    .. '"errors": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
"""
_PACE = """
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
function delay() return pause end
"""
_DECIDE = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def _script(folder: Path, kind: str) -> Path:
    body = json.dumps(CALL)
    text = {
        "noop": "",
        "decide": _DECIDE % body,
    }[kind]
    path = folder / f"{kind}.lua"
    path.write_text(text + _PACE + _DONE, encoding="utf-8")
    return path


class Server:
    def __init__(self, workers: int, folder: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "policy",
                "serve",
                "--port",
                "0",
                "--workers",
                str(workers),
                "--ledger",
                f"sqlite:///{folder / f'bench-{workers}.db'}",
            ],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        self.url = line.split("listening on ")[1].split()[0]
        import httpx

        for _ in range(400):
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        time.sleep(1.0 if workers > 1 else 0.2)  # every worker up

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _wrk(
    url: str, script: Path, seconds: float, connections: int, delay_ms: float
) -> dict[str, Any]:
    path = "/healthz" if script.stem == "noop" else "/v1/tenants/contoso/decide"
    env = {**os.environ, "BENCH_DELAY_MS": str(round(delay_ms))}
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(int(seconds), 1)}s",
            "-s",
            str(script),
            url + path,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=seconds + 60,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    line = lines[-1]
    result: dict[str, Any] = json.loads(line)
    result["rate"] = result["requests"] / result["seconds"]
    return result


def _httpx_load(
    url: str, kind: str, seconds: float, connections: int, delay_ms: float
) -> dict[str, Any]:
    """The fallback load generator: ``connections`` async clients, closed loop."""
    import asyncio

    import httpx

    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, n: int, worker: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        if kind == "noop":
            answer = await client.get(url + "/healthz")
        elif kind == "decide":
            answer = await client.post(url + "/v1/tenants/contoso/decide", json=CALL)
        else:
            call_id = f"h{worker}-{n}-{time.monotonic_ns()}"
            answer = await client.post(
                url + "/v1/tenants/contoso/sessions", json={**CALL, "id": call_id}
            )
            latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            answer = await client.post(
                f"{url}/v1/tenants/contoso/sessions/{call_id}/end", json={"used": 30}
            )
        latencies.append(time.perf_counter() - started)
        errors += answer.status_code != 200

    async def loop(worker: int, stop: float) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            n = 0
            while time.perf_counter() < stop:
                await one(client, n, worker)
                n += 1
                if delay_ms:
                    await asyncio.sleep(delay_ms / 1000)

    async def main() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(loop(w, began + seconds) for w in range(connections)))
        return time.perf_counter() - began

    elapsed = asyncio.run(main())
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "seconds": elapsed,
        "rate": len(ordered) / elapsed,
        "p50": ordered[len(ordered) // 2] * 1e6,
        "p99": ordered[int(len(ordered) * 0.99)] * 1e6,
        "errors": errors,
    }


def measure(
    workers: int, kinds: list[str], seconds: float, connections: int, folder: Path
) -> dict[str, dict[str, Any]]:
    server = Server(workers, folder)
    use_wrk = shutil.which("wrk") is not None
    out: dict[str, dict[str, Any]] = {}
    try:
        for kind in kinds:
            if use_wrk and kind != "pair":
                script = _script(folder, kind)
                run = lambda d, s=script: _wrk(server.url, s, seconds, connections, d)  # noqa: E731
            else:  # a pair is two requests on one connection, in order: wrk cannot chain them
                run = lambda d, k=kind: _httpx_load(server.url, k, seconds, connections, d)  # noqa: E731
            peak = run(0.0)
            half_rate = peak["rate"] / 2
            delay = connections / half_rate * 1000  # each connection waits this between requests
            half = run(delay)
            out[kind] = {"peak": peak, "half": half}
    finally:
        server.stop()
    return out


def in_process(repeat: int = 9, number: int = 5000) -> dict[str, float]:
    """``engine.evaluate`` of a plain dict against a ``policy.Call`` (median µs)."""
    import policy

    engine = policy.load()
    tenant = policy.Tenant.from_file(ROOT / "examples" / "tenant.yaml")
    record = {**CALL, "duration": 420}
    call = policy.Call.from_dict(record)
    starts = [f"2026-11-02T09:{m:02d}:{s:02d}-05:00" for m in range(60) for s in range(60)]
    fresh = [{**record, "start": s} for s in starts]  # a start never seen: no memo

    def median(function: Any) -> float:
        return (
            statistics.median(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6
        )

    engine.evaluate(call, tenant)
    engine.evaluate(record, tenant)
    from policy.data import call as call_module

    def unseen() -> None:
        call_module._STARTS.clear()
        engine.evaluate(fresh[0], tenant)

    return {
        "call": median(lambda: engine.evaluate(call, tenant)),
        "dict": median(lambda: engine.evaluate(record, tenant)),
        "dict_unseen_start": median(unseen),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (default 5)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-http", action="store_true", help="only the in-process figures")
    args = parser.parse_args(argv)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; load generator: "
        f"{'wrk' if shutil.which('wrk') else 'httpx (wrk not installed)'}; "
        f"{args.connections} connections, {args.duration:g} s per run"
    )
    if not args.skip_http:
        with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
            for workers in args.workers:
                figures = measure(
                    workers,
                    ["noop", "decide", "pair"],
                    args.duration,
                    args.connections,
                    Path(scratch),
                )
                floor = figures["noop"]["peak"]["rate"]
                print(f"\n{workers} worker{'s' if workers > 1 else ''}:")
                print(
                    f"  {'route':<8} {'peak req/s':>10} {'p50 ms':>7} {'p99 ms':>7}"
                    f"   {'half: req/s':>11} {'p50 ms':>7} {'p99 ms':>7}  errors"
                )
                for kind, run in figures.items():
                    peak, half = run["peak"], run["half"]
                    rate = peak["rate"] / 2 if kind == "pair" else peak["rate"]
                    label = "pair/s" if kind == "pair" else ""
                    print(
                        f"  {kind:<8} {rate:>10.0f} {peak['p50'] / 1000:>7.2f} "
                        f"{peak['p99'] / 1000:>7.2f}   {half['rate']:>11.0f} "
                        f"{half['p50'] / 1000:>7.2f} {half['p99'] / 1000:>7.2f}  "
                        f"{peak['errors'] + half['errors']} {label}"
                    )
                decide = figures["decide"]
                ratio = decide["peak"]["rate"] / floor
                p99 = decide["half"]["p99"] / 1000
                print(
                    f"  decide/noop = {ratio:.0%} (target ≥ 60%); decide p99 at half peak = "
                    f"{p99:.2f} ms (target ≤ 5 ms)"
                )
    figures = in_process()
    ratio = figures["dict"] / figures["call"]
    print(
        f"\nin-process engine.evaluate: Call {figures['call']:.2f} µs, "
        f"dict {figures['dict']:.2f} µs "
        f"({ratio:.2f}×; targets ≤ 1.5×, ≤ 5 µs), dict with a start never seen "
        f"{figures['dict_unseen_start']:.2f} µs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
