"""Service fixtures: an app in-process (Starlette's TestClient) and real servers
(``ccpolicy serve --port 0`` in a subprocess, always stopped)."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


from service_support import ROOT, Client, Server, postgres_url, write_tenant

from policy.service.app import Service, create_app
from policy.service.auth import Gate, load_tokens
from policy.service.state import Settings


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
