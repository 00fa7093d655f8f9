"""Ledger fixtures: the same tests run on SQLite and on PostgreSQL.

PostgreSQL is found through ``CCPOLICY_TEST_POSTGRES`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets a fresh schema (random name,
through ``search_path``) that is dropped afterwards. If the server does not answer, the
PostgreSQL variants are skipped with the reason — or fail, in CI or with
``CCPOLICY_REQUIRE_POSTGRES=1`` (:func:`components.requires_component`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from components import requires_component

PG_URL = os.environ.get("CCPOLICY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_pg_problem: list[str] = []


def _pg_unavailable() -> str | None:
    if not _pg_problem:
        try:
            import psycopg

            psycopg.connect(PG_URL, connect_timeout=3).close()
            _pg_problem.append("")
        except Exception as exc:  # any failure means: skip, with the reason
            _pg_problem.append(f"PostgreSQL at {PG_URL} does not answer: {exc}".strip())
    return _pg_problem[0] or None


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    problem = _pg_unavailable()
    requires_component("postgres", problem is None, problem or "")
    import psycopg

    schema = f"ccp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
