"""Version 2: an outbox event is keyed by (tenant, call id, n) in separate columns.

Version 1 joined them into one globally unique string ``tenant/call/n``, so tenant ``acme``
charging call ``x/c1`` blocked tenant ``acme/x`` from ever charging ``c1``. The conversion
is exact: the call id is the one stored in the event's payload, n the key's last part
(a number, never containing ``/``).
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policy.ledger import store
from policy.ledger.migrations.m0001_initial import outbox_v1

VERSION = 2
NAME = "event_keys"


def _converted(conn: Connection) -> list[dict[str, object]]:
    rows = []
    for row in conn.execute(sa.select(outbox_v1).order_by(outbox_v1.c.id)):
        rows.append(
            {
                "id": row.id,
                "tenant_id": row.tenant_id,
                "call_id": json.loads(row.payload)["call"],
                "seq": int(row.event_key.rsplit("/", 1)[1]),
                "type": row.type,
                "payload": row.payload,
                "created_at": row.created_at,
                "expanded": row.expanded,
            }
        )
    return rows


def upgrade(conn: Connection) -> None:
    rows = _converted(conn)
    if conn.dialect.name == "sqlite":
        # SQLite cannot drop a UNIQUE constraint: rebuild the table (its documented
        # procedure), the deliveries' foreign keys checked at commit
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        conn.exec_driver_sql("DROP TABLE outbox")
        store.outbox.create(conn)
        if rows:
            conn.execute(store.outbox.insert(), rows)
        return
    conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN call_id VARCHAR(200)")
    conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN seq INTEGER")
    for row in rows:
        conn.execute(
            sa.text("UPDATE outbox SET call_id = :c, seq = :n WHERE id = :id"),
            {"c": row["call_id"], "n": row["seq"], "id": row["id"]},
        )
    conn.exec_driver_sql("ALTER TABLE outbox ALTER COLUMN call_id SET NOT NULL")
    conn.exec_driver_sql("ALTER TABLE outbox ALTER COLUMN seq SET NOT NULL")
    conn.exec_driver_sql("ALTER TABLE outbox DROP COLUMN event_key")  # and its unique index
    conn.exec_driver_sql(
        "ALTER TABLE outbox ADD CONSTRAINT uq_outbox_event UNIQUE (tenant_id, call_id, seq)"
    )
