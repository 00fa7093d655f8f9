"""Real servers (``ccpolicy serve --port 0`` processes): reload under load, SIGTERM with
requests in flight, workers, and two servers sharing one PostgreSQL ledger."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from conftest import CALL, JSON, Server, write_tenant

from policy.data.tenant import Tenant
from policy.ledger import Ledger

Start = Callable[..., Server]


def _post(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    return client.post(url, content=json.dumps(body), headers=JSON)


def test_reload_while_requests_are_in_flight_fails_none(
    start_server: Start, rules_copy: Path, tmp_path: Path
) -> None:
    server = start_server("--rules", str(rules_copy), "--ledger", f"sqlite:///{tmp_path}/l.db")
    url = f"{server.url}/v1/tenants/contoso/decide"
    stop = threading.Event()
    statuses: list[int] = []
    errors: list[str] = []

    def hammer() -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                try:
                    statuses.append(_post(client, url, CALL).status_code)
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        with httpx.Client(timeout=60) as admin:
            good = admin.post(f"{server.url}/v1/admin/reload")
            assert good.status_code == 200
            broken = rules_copy / "zz_broken.ccp"
            broken.write_text("scenario oops\n", encoding="utf-8")
            bad = admin.post(f"{server.url}/v1/admin/reload")
            assert bad.status_code == 400
            assert admin.get(f"{server.url}/readyz").json()["last_reload"]["ok"] is False
            broken.unlink()
            server.signal(signal.SIGHUP)
            for _ in range(200):
                ready = admin.get(f"{server.url}/readyz").json()
                if ready["last_reload"]["ok"] and ready["generation"] >= 3:
                    break
                stop.wait(0.05)
            assert ready["last_reload"]["ok"] is True
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert statuses and set(statuses) == {200}
    log = server.log()
    assert '"result": "refused"' in log and '"cause": "SIGHUP"' in log


def test_sigterm_lets_requests_in_flight_finish(start_server: Start, tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    server = start_server("--ledger", f"sqlite:///{db}")
    url = f"{server.url}/v1/tenants/contoso/charges"
    barrier = threading.Barrier(17)

    def charge(n: int) -> str:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            try:
                answer = _post(client, url, {**CALL, "id": f"t{n}", "duration": 60})
            except httpx.ConnectError:
                return "not connected"
            except httpx.HTTPError as exc:
                return f"broken: {exc!r}"
            return str(answer.status_code)

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(charge, n) for n in range(16)]
        barrier.wait()
        threading.Event().wait(0.05)
        server.signal(signal.SIGTERM)
        results = [f.result() for f in futures]
    assert server.process.wait(timeout=30) == 0
    assert not [r for r in results if r.startswith("broken")], results
    answered = [r for r in results if r == "200"]
    assert answered
    tenant = Tenant.from_file(Path(__file__).parents[2] / "examples" / "tenant.yaml")
    with Ledger(f"sqlite:///{db}", tenant=tenant) as ledger:
        assert len(ledger.charged()) == len(answered)  # every answer written, nothing half
        assert ledger.verify() == []


def test_two_workers_answer_as_one_server(start_server: Start, tmp_path: Path) -> None:
    server = start_server("--workers", "2", "--ledger", f"sqlite:///{tmp_path}/l.db")
    with httpx.Client(timeout=30) as client:
        for n in range(20):
            answer = _post(
                client, f"{server.url}/v1/tenants/contoso/decide", {**CALL, "id": f"w{n}"}
            )
            assert answer.status_code == 200
        metrics = client.get(f"{server.url}/metrics").text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("ccpolicy_http_requests_total{")
        and 'route="/v1/tenants/{tenant}/decide"' in line
    )
    assert total == 20  # both workers' samples, added up
    assert server.stop() == 0


def test_two_servers_on_one_postgresql_ledger_share_sessions(
    start_server: Start, pg_ledger: str, tmp_path: Path
) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    write_tenant(folder, "contoso", credits={"balance": "1.00", "funding": "one_time"})
    a = start_server("--ledger", pg_ledger, "--tenants", str(folder))
    b = start_server("--ledger", pg_ledger, "--tenants", str(folder))
    sessions = "/v1/tenants/contoso/sessions"
    with httpx.Client(timeout=30) as client:
        grant = _post(client, a.url + sessions, {**CALL, "id": "shared"})
        assert grant.status_code == 200 and grant.json()["permitted"]
        update = _post(client, f"{b.url}{sessions}/shared/update", {"used": 30})
        assert update.status_code == 200
        end = _post(client, f"{a.url}{sessions}/shared/end", {"used": 45})
        assert end.status_code == 200
        assert _post(client, f"{b.url}{sessions}/shared/end", {"used": 45}).json() == end.json()
        balance_a = client.get(f"{a.url}/v1/tenants/contoso/balance").json()
        balance_b = client.get(f"{b.url}/v1/tenants/contoso/balance").json()
    assert balance_a == balance_b
    assert Decimal(balance_a["balance"]) == Decimal("1.00") - Decimal(end.json()["cost"]["amount"])


def test_concurrent_sessions_over_http_never_overdraw(
    start_server: Start, pg_ledger: str, tmp_path: Path
) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    write_tenant(folder, "contoso", credits={"balance": "0.50", "funding": "one_time"})
    servers = [start_server("--ledger", pg_ledger, "--tenants", str(folder)) for _ in range(2)]

    def call(n: int) -> tuple[bool, str]:
        base = servers[n % 2].url + "/v1/tenants/contoso/sessions"
        with httpx.Client(timeout=60) as client:
            grant = _post(client, base, {**CALL, "id": f"k{n}"}).json()
            if not grant["permitted"]:
                return False, "0"
            seconds = grant["grant"]["seconds"]
            end = _post(
                client,
                f"{servers[(n + 1) % 2].url}/v1/tenants/contoso/sessions/k{n}/end",
                {"used": seconds},
            )
            return True, end.json()["cost"]["amount"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(24)))
    with httpx.Client(timeout=30) as client:
        balance = client.get(servers[0].url + "/v1/tenants/contoso/balance").json()
    spent = sum((Decimal(cost) for ok, cost in results if ok), Decimal(0))
    assert Decimal(balance["balance"]) >= 0
    assert Decimal(balance["balance"]) == Decimal("0.50") - spent
    assert any(not ok for ok, _ in results)  # the balance ran out: later calls were refused
