"""Service fixtures: an app in-process (Starlette's TestClient) and real servers
(``ccpolicy serve --port 0`` in a subprocess, always stopped)."""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from helpers import BASE_TENANT, ROOT

from policy.service.app import Service, create_app
from policy.service.auth import Gate, load_tokens
from policy.service.state import Settings

JSON = {"content-type": "application/json"}

CALL: dict[str, Any] = {
    "id": "c1",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "to": "+442071838750",
    "start": "2026-11-02T09:00:00-05:00",
}

TOKENS = {
    "admin-token": ("ops", "*", ["admin"]),
    "switch-token": ("switch", ["contoso"], ["decide", "charge"]),
    "decide-token": ("reader", ["contoso"], ["decide"]),
    "other-token": ("fabrikam switch", ["fabrikam"], ["decide", "charge"]),
}


def write_tenant(folder: Path, name: str = "contoso", **changes: Any) -> Path:
    data = copy.deepcopy(BASE_TENANT)
    data["tenant"] = name
    data.update(changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def write_tokens(path: Path) -> Path:
    entries = [
        {
            "name": name,
            "sha256": hashlib.sha256(secret.encode()).hexdigest(),
            "tenants": tenants,
            "scopes": scopes,
        }
        for secret, (name, tenants, scopes) in TOKENS.items()
    ]
    path.write_text(yaml.safe_dump(entries), encoding="utf-8")
    return path


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled rules (a reload test may break and fix it)."""
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests"))
    return folder


@pytest.fixture
def tenants_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "tenants"
    folder.mkdir()
    write_tenant(folder, "contoso")
    write_tenant(folder, "fabrikam")
    return folder


Client = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Client]:
    """``make_client(tenants=..., rules=..., tokens=..., max_body=...)``: a started app."""
    opened: list[TestClient] = []

    def make(
        *,
        tenants: tuple[str, ...] = (),
        rules: str | None = None,
        tokens: Path | None = None,
        ledger: str | None = None,
        max_body: int = 64 * 1024,
    ) -> TestClient:
        settings = Settings(
            ledger_url=ledger or f"sqlite:///{tmp_path / f'ledger{len(opened)}.db'}",
            rules=rules,
            tenants=tenants,
        )
        gate = Gate(load_tokens(tokens) if tokens else None)
        service = Service(settings, gate, max_body=max_body)
        client = TestClient(create_app(service), raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return client

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Client) -> TestClient:
    """The defaults: bundled rules, the example tenant, a fresh SQLite ledger, no tokens."""
    return make_client()


class Server:
    """``ccpolicy serve`` in a subprocess on 127.0.0.1, port 0."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log_path = cwd / f"serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "policy", "serve", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on http://" not in line:
            self.stop()
            raise AssertionError(f"serve did not start: {line!r}\n{self.log_path.read_text()}")
        self.url = line.split("listening on ")[1].split()[0]
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready: {self.log_path.read_text()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(list(args), tmp_path)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


def postgres_url() -> str:
    """A PostgreSQL database for the shared-ledger tests: skipped locally when none
    answers, a failure in CI (CI=true)."""
    url = os.environ.get("CCPOLICY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any failure: PostgreSQL is not there
        message = f"PostgreSQL at {url} does not answer: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def pg_ledger() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    import uuid
    from urllib.parse import quote

    import psycopg

    url = postgres_url()
    schema = f"ccp_serve_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
