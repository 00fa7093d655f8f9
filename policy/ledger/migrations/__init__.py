"""Versioned schema migrations, applied in order by :func:`migrate` and recorded in
``schema_migrations``. Each migration is a module ``mNNNN_name`` with ``VERSION``, ``NAME``
and ``upgrade(conn)``; add new ones to ``MIGRATIONS`` — never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policy.ledger.migrations import m0001_initial, m0002_event_keys, m0003_sessions
from policy.ledger.store import schema_migrations

__all__ = ["LATEST", "MIGRATIONS", "Migration", "applied_version", "migrate"]


class Migration(NamedTuple):
    version: int
    name: str
    upgrade: Callable[[Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(m0001_initial.VERSION, m0001_initial.NAME, m0001_initial.upgrade),
    Migration(m0002_event_keys.VERSION, m0002_event_keys.NAME, m0002_event_keys.upgrade),
    Migration(m0003_sessions.VERSION, m0003_sessions.NAME, m0003_sessions.upgrade),
)
LATEST = MIGRATIONS[-1].version

_PG_LOCK_KEY = 0x63637001  # advisory lock serialising concurrent migrators


def applied_version(conn: Connection) -> int:
    """The schema version of the database (0: no ledger here)."""
    if not sa.inspect(conn).has_table(schema_migrations.name):
        return 0
    version = conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar()
    return int(version or 0)


def migrate(conn: Connection, now: datetime) -> list[int]:
    """Apply every pending migration inside the caller's transaction; returns the versions
    applied. Concurrent callers are serialised (advisory lock / BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    schema_migrations.create(conn, checkfirst=True)
    done = set(conn.execute(sa.select(schema_migrations.c.version)).scalars())
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        migration.upgrade(conn)
        conn.execute(
            schema_migrations.insert().values(
                version=migration.version, name=migration.name, applied_at=now
            )
        )
        applied.append(migration.version)
    return applied
