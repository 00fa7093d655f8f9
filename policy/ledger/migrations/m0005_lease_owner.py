"""Version 5: a delivery's lease names its holder (``claimed_by``), so a notifier renews
only the leases it still holds and never sends a delivery another one has taken."""

from __future__ import annotations

from sqlalchemy.engine import Connection

VERSION = 5
NAME = "lease_owner"


def upgrade(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE deliveries ADD COLUMN claimed_by VARCHAR(40)")
