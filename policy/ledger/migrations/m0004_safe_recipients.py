"""Version 4: webhook deliveries no longer store their URL, which may hold a token or a
password, but its safe form (scheme, host, port and a digest of the whole URL); the URL
itself stays in configuration. The digest keeps different URLs apart, so the conversion
cannot merge two deliveries."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policy.ledger.delivery import safe_url
from policy.ledger.store import deliveries

VERSION = 4
NAME = "safe_recipients"


_SAFE = re.compile(r"^[a-z][a-z0-9+.-]*://[^/?#@]+/(…#[0-9a-f]{12})?$")


def upgrade(conn: Connection) -> None:
    rows = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.recipient, deliveries.c.last_error).where(
            deliveries.c.channel == "webhook"
        )
    ).all()
    for delivery_id, recipient, error in rows:
        if _SAFE.match(recipient):
            continue
        safe = safe_url(recipient)
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(recipient=safe, last_error=error.replace(recipient, safe) if error else None)
        )
