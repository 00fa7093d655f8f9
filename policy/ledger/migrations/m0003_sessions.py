"""Version 3: online-charging sessions and the holds they keep while a call is up."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from policy.ledger import store

VERSION = 3
NAME = "sessions"


def upgrade(conn: Connection) -> None:
    # store.sessions is version 3; copy its definition here before a later migration
    # changes it.
    store.metadata.create_all(conn, tables=[store.sessions], checkfirst=True)
