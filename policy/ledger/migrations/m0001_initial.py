"""Version 1: tenants, lots, history, lot spends, charges, pool usage, outbox, deliveries."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policy.ledger import store
from policy.ledger.store import UTCDateTime

VERSION = 1
NAME = "initial"


# version 1 of the outbox (version 2 keys events by separate columns)
_v1 = sa.MetaData()
sa.Table("tenants", _v1, sa.Column("id", sa.Integer, primary_key=True))  # for the key only
outbox_v1 = sa.Table(
    "outbox",
    _v1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.Integer, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("event_key", sa.String(300), nullable=False, unique=True),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expanded", sa.Boolean, nullable=False),
)


def upgrade(conn: Connection) -> None:
    # The tables of store.py are version 1. When a later migration changes one, copy its
    # version-1 definition here first so this migration keeps creating version 1.
    tables = [
        store.tenants,
        store.lots,
        store.history,
        store.lot_spends,
        store.charges,
        store.pool_usage,
    ]
    store.metadata.create_all(conn, tables=tables, checkfirst=True)
    outbox_v1.create(conn, checkfirst=True)
    store.deliveries.create(conn, checkfirst=True)
