"""Version 1: tenants, lots, history, lot spends, charges, pool usage, outbox, deliveries."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from policy.ledger import store

VERSION = 1
NAME = "initial"


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
        store.outbox,
        store.deliveries,
    ]
    store.metadata.create_all(conn, tables=tables, checkfirst=True)
