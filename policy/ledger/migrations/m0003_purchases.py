"""Version 3: ``purchases`` — money asked of the payment provider, recorded before it is
asked (pending) and resolved after, so a crash between the provider's answer and the
ledger's commit can be recovered without charging the card twice."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from policy.ledger import store

VERSION = 3
NAME = "purchases"


def upgrade(conn: Connection) -> None:
    # When a later migration changes this table, copy this version's definition here first.
    store.purchases.create(conn, checkfirst=True)
