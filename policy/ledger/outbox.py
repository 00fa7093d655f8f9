"""Outbox: events written in the same transaction as the change that caused them, and the
per-recipient deliveries made from them.

An event row is keyed (tenant, call id, n) — separate columns, unique together, never one
joined string — so a retried charge cannot enqueue it twice and no tenant's call id can
collide with another tenant's. Deliveries are created when the deliverer first sees the
event — one per (event, channel, recipient), unique — and carry the dedupe key sent
with the message.
A delivery is *claimed* (a lease) before it is sent, so two deliverers never send the
same one at the same time; it is marked sent after the server accepted it (at least
once: a crash between the two sends it again, with the same dedupe key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from policy.engine.decision import Decision
from policy.ledger.store import deliveries, outbox

__all__ = [
    "Job",
    "claim",
    "dedupe_key",
    "enqueue",
    "expand",
    "mark_failed",
    "mark_sent",
    "pending",
    "preview",
]


class Job(NamedTuple):
    """One delivery to attempt: a message for one recipient on one channel."""

    delivery_id: int
    channel: str  # email | webhook
    recipient: str  # e-mail address or URL
    dedupe_key: str
    attempts: int  # earlier attempts
    payload: dict[str, Any]


def dedupe_key(tenant: str, call_id: str, seq: int, channel: str, recipient: str) -> str:
    """Stable per (event, recipient): receivers drop a message whose key they have seen.
    The parts are hashed as a JSON array, so no two different keys can give one text."""
    parts = json.dumps([tenant, call_id, seq, channel, recipient], ensure_ascii=True)
    digest = hashlib.sha256(parts.encode()).hexdigest()
    return f"ccp-{digest[:32]}"


def enqueue(
    conn: Connection,
    tenant_id: int,
    tenant: str,
    decision: Decision,
    now: datetime,
    *,
    first: int = 0,
) -> int:
    """Write the decision's events (with their resolved roles and recipients) to the outbox,
    keyed (tenant, call id, ``first`` + n)."""
    rows = []
    for n, event in enumerate(decision.events):
        notice = decision.notify[n] if n < len(decision.notify) else None
        payload = {
            "tenant": tenant,
            "call": decision.call,
            "event": event.to_dict(),
            "currency": decision.currency,
            "balance_after": None
            if decision.balance_after is None
            else str(decision.balance_after),
            "roles": list(notice.roles) if notice else [],
            "recipients": list(notice.recipients) if notice else [],
            "at": now.isoformat(),
        }
        rows.append(
            {
                "tenant_id": tenant_id,
                "call_id": decision.call,
                "seq": first + n,
                "type": event.type,
                "payload": json.dumps(payload, sort_keys=True),
                "created_at": now,
                "expanded": False,
            }
        )
    if rows:
        conn.execute(outbox.insert(), rows)
    return len(rows)


def expand(
    conn: Connection, tenant_id: int, channels: Sequence[tuple[str, str | None]], now: datetime
) -> int:
    """Create the deliveries of events not yet expanded: for ``("email", None)`` one per
    recipient e-mail, for ``("webhook", URL)`` one per event. Returns how many."""
    events = conn.execute(
        sa.select(outbox.c.id, outbox.c.payload)
        .where(outbox.c.tenant_id == tenant_id, outbox.c.expanded.is_(False))
        .order_by(outbox.c.id)
    ).all()
    created = 0
    for event_id, raw in events:
        payload = json.loads(raw)
        rows = []
        for channel, target in channels:
            targets: Iterable[str] = payload["recipients"] if target is None else (target,)
            for recipient in targets:
                rows.append(
                    {
                        "outbox_id": event_id,
                        "channel": channel,
                        "recipient": recipient,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": now,
                    }
                )
        if rows:
            conn.execute(deliveries.insert(), rows)
            created += len(rows)
        conn.execute(outbox.update().where(outbox.c.id == event_id).values(expanded=True))
    return created


def _due(tenant_id: int, now: datetime) -> sa.Select[Any]:
    return (
        sa.select(
            deliveries.c.id,
            deliveries.c.channel,
            deliveries.c.recipient,
            deliveries.c.attempts,
            outbox.c.call_id,
            outbox.c.seq,
            outbox.c.payload,
        )
        .join(outbox, outbox.c.id == deliveries.c.outbox_id)
        .where(
            outbox.c.tenant_id == tenant_id,
            deliveries.c.status == "pending",
            deliveries.c.next_attempt_at <= now,
            sa.or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now),
        )
        .order_by(deliveries.c.id)
    )


def _jobs(rows: Iterable[Any]) -> list[Job]:
    jobs = []
    for r in rows:
        payload = json.loads(r.payload)
        key = dedupe_key(payload["tenant"], r.call_id, r.seq, r.channel, r.recipient)
        jobs.append(Job(r.id, r.channel, r.recipient, key, r.attempts, payload))
    return jobs


def pending(conn: Connection, tenant_id: int, now: datetime) -> list[Job]:
    """Deliveries due now (read only; for ``notify --dry-run``)."""
    return _jobs(conn.execute(_due(tenant_id, now)).all())


def preview(
    conn: Connection, tenant_id: int, channels: Sequence[tuple[str, str | None]], now: datetime
) -> list[Job]:
    """What a delivery run would send now, without writing: the due deliveries and those
    the events not yet expanded would get."""
    jobs = pending(conn, tenant_id, now)
    events = conn.execute(
        sa.select(outbox.c.call_id, outbox.c.seq, outbox.c.payload)
        .where(outbox.c.tenant_id == tenant_id, outbox.c.expanded.is_(False))
        .order_by(outbox.c.id)
    ).all()
    for call_id, seq, raw in events:
        payload = json.loads(raw)
        for channel, target in channels:
            targets: Iterable[str] = payload["recipients"] if target is None else (target,)
            for recipient in targets:
                key = dedupe_key(payload["tenant"], call_id, seq, channel, recipient)
                jobs.append(Job(0, channel, recipient, key, 0, payload))
    return jobs


def claim(
    conn: Connection,
    tenant_id: int,
    now: datetime,
    *,
    lease: timedelta,
    limit: int,
    exclude: Collection[int] = (),
) -> list[Job]:
    """Take up to ``limit`` due deliveries (not in ``exclude``) for ``lease``; other
    deliverers skip them meanwhile."""
    query = _due(tenant_id, now).limit(limit)
    if exclude:
        query = query.where(deliveries.c.id.not_in(list(exclude)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=deliveries)
    jobs = _jobs(conn.execute(query).all())
    if jobs:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_([j.delivery_id for j in jobs]))
            .values(claimed_until=now + lease)
        )
    return jobs


def mark_sent(conn: Connection, job: Job, now: datetime) -> None:
    conn.execute(
        deliveries.update()
        .where(deliveries.c.id == job.delivery_id)
        .values(
            status="sent",
            sent_at=now,
            attempts=deliveries.c.attempts + 1,
            claimed_until=None,
            last_error=None,
        )
    )


def mark_failed(
    conn: Connection, job: Job, now: datetime, error: str, retry_at: datetime | None
) -> None:
    """Record a failed attempt: due again at ``retry_at``, or given up (``dead``) if None."""
    values: dict[str, Any] = {
        "attempts": deliveries.c.attempts + 1,
        "claimed_until": None,
        "last_error": error[:2000],
    }
    if retry_at is None:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = retry_at
    conn.execute(deliveries.update().where(deliveries.c.id == job.delivery_id).values(**values))
