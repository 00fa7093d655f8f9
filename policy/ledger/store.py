"""Store: the ledger's tables (SQLAlchemy Core), its column types, and the database engine.

One schema for SQLite and PostgreSQL. Money is exact: unconstrained ``NUMERIC`` on
PostgreSQL (which keeps the scale it was given) and decimal text on SQLite (whose NUMERIC
affinity would turn "12.34" into a float).
Timestamps are stored as naive UTC and returned aware. The tables are created by the
versioned migrations in :mod:`policy.ledger.migrations`; ``schema_migrations`` records
which ran.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Dialect, Engine, Row, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from policy.ledger.errors import LedgerError

__all__ = [
    "Money",
    "UTCDateTime",
    "charges",
    "connect",
    "deliveries",
    "history",
    "lot_spends",
    "lots",
    "metadata",
    "outbox",
    "pool_usage",
    "purchases",
    "redact",
    "schema_migrations",
    "sessions",
    "tenants",
]

SQLITE_BUSY_TIMEOUT = 60.0  # seconds a writer waits for the database lock
LOCK_TIMEOUT = 60.0  # PostgreSQL: seconds a writer waits for a row lock (lock_timeout)


class Money(sa.types.TypeDecorator[Decimal]):
    """An exact decimal amount: NUMERIC on PostgreSQL, decimal text on SQLite."""

    impl = sa.Numeric()
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))  # keeps the scale given

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}")
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC datetime, stored naive (both backends agree on that)."""

    impl = sa.DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ledger timestamps must be timezone-aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("billing_country", sa.String(2), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # spent beyond every lot (a credits call is charged in full: Evaluation, docs/reference.md);
    # the next lot pays it back first
    sa.Column("overdraft", Money, nullable=False),
    sa.Column("failing", sa.Boolean, nullable=False),  # inside a failed-recharge episode
    sa.Column("foreign_billing_override", sa.Text, nullable=True),  # recorded reason
    sa.Column("created_at", UTCDateTime, nullable=False),
)

lots = sa.Table(
    "lots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),  # initial | purchase | recharge
    sa.Column("amount", Money, nullable=False),
    sa.Column("remaining", Money, nullable=False),
    sa.Column("purchased_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False),  # spent or expired
    sa.Column("payment_ref", sa.String(200), nullable=True),
    sa.Index("ix_lots_open", "tenant_id", "closed", "purchased_at"),
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    # initial | purchase | recharge | charge | expiry
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("amount", Money, nullable=False),  # signed balance change
    sa.Column("balance_after", Money, nullable=False),
    sa.Column("call_id", sa.String(200), nullable=True),
    sa.Column("lot_id", sa.Integer, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Index("ix_history_tenant", "tenant_id", "id"),
)

lot_spends = sa.Table(
    "lot_spends",
    metadata,
    sa.Column("history_id", sa.ForeignKey("history.id"), primary_key=True),
    sa.Column("lot_id", sa.ForeignKey("lots.id"), primary_key=True),
    sa.Column("amount", Money, nullable=False),
)

charges = sa.Table(
    "charges",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("call_id", sa.String(200), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),
    sa.Column("permitted", sa.Boolean, nullable=False),
    sa.Column("paid_by", sa.String(20), nullable=False),
    sa.Column("pool", sa.String(200), nullable=True),
    sa.Column("minutes", sa.Integer, nullable=False),  # pool minutes used
    sa.Column("cost", Money, nullable=False),  # debited from credits
    sa.Column("recharged", Money, nullable=False),  # bought by an auto-recharge
    sa.Column("decision", sa.Text, nullable=False),  # the decision, JSON
    sa.UniqueConstraint("tenant_id", "call_id", name="uq_charges_tenant_call"),
)

pool_usage = sa.Table(
    "pool_usage",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("pool", sa.String(200), primary_key=True),
    sa.Column("minutes", sa.Integer, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    # an event's key is (tenant, call id, n): separate columns, never one joined string
    sa.Column("call_id", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # the event's place among the call's
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # JSON: event, call, roles, recipients
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expanded", sa.Boolean, nullable=False),  # deliveries created
    sa.UniqueConstraint("tenant_id", "call_id", "seq", name="uq_outbox_event"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("outbox_id", sa.ForeignKey("outbox.id"), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),  # email | webhook
    sa.Column("recipient", sa.String(500), nullable=False),  # address or URL
    sa.Column("status", sa.String(20), nullable=False),  # pending | sent
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("claimed_by", sa.String(40), nullable=True),  # the lease holder (a run's id)
    sa.Column("last_error", sa.Text, nullable=True),
    sa.UniqueConstraint("outbox_id", "channel", "recipient", name="uq_deliveries_dedupe"),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at"),
)


purchases = sa.Table(
    "purchases",
    metadata,
    # Money asked of the payment provider: recorded (pending, committed) before the provider
    # is called, resolved after it answered; a pending one is resolved by asking again with
    # the same key (recovery).
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # purchase | recharge
    sa.Column("ref", sa.String(200), nullable=False),  # the purchase id or the call id
    sa.Column("attempt", sa.Integer, nullable=False),  # 1, 2… for one call's recharges
    sa.Column("key", sa.String(800), nullable=False),  # the idempotency key sent
    sa.Column("amount", Money, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # pending | paid | refused
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("reference", sa.String(200), nullable=True),  # the provider's reference
    sa.Column("reason", sa.Text, nullable=True),  # why refused
    # paid: credited by the call's charge ("charge") or on its own ("alone")
    sa.Column("credited", sa.String(20), nullable=True),
    sa.Column("lot_id", sa.Integer, nullable=True),
    sa.UniqueConstraint("tenant_id", "kind", "ref", "attempt", name="uq_purchases_ref"),
    sa.Index("ix_purchases_status", "tenant_id", "status"),
)


sessions = sa.Table(
    "sessions",
    metadata,
    # one online-charging session per tenant and call id (version 6): what it holds while
    # the call is up, released when it ends or expires (the charge row then says the rest)
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("call_id", sa.String(200), nullable=False),
    sa.Column("call", sa.Text, nullable=False),  # the call as begun, JSON (fixed at begin)
    sa.Column("status", sa.String(10), nullable=False),  # open | ended | expired
    sa.Column("begun_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("month", sa.String(7), nullable=False),  # pool month of the call's start
    sa.Column("granted", sa.Integer, nullable=True),  # T, seconds granted so far (None: free)
    sa.Column("used", sa.Integer, nullable=False),  # last reported seconds used
    sa.Column("hold", Money, nullable=False),  # credits held: cost(T)
    sa.Column("pool", sa.String(200), nullable=True),  # pool the minutes are held in
    sa.Column("minutes", sa.Integer, nullable=False),  # pool minutes held
    sa.Column("valid_until", UTCDateTime, nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=True),  # valid_until + grace
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("recharge_tried", sa.Boolean, nullable=False),  # one attempt per session
    sa.Column("recharged", Money, nullable=False),  # bought by a recharge the hold triggered
    sa.Column("grant", sa.Text, nullable=False),  # the last grant, JSON
    sa.UniqueConstraint("tenant_id", "call_id", name="uq_sessions_tenant_call"),
    sa.Index("ix_sessions_open", "tenant_id", "status"),
)


_USERINFO = re.compile(r"(?P<user>//[^/?#@:]*):[^/?#]*@")


def pending_recharges(conn: Connection, tenant_id: int) -> list[Row[Any]]:
    """The tenant's recharge purchases still waiting for the provider's answer, oldest
    first (at most one is with the provider at a time; a crashed try leaves its own)."""
    return list(
        conn.execute(
            sa.select(purchases)
            .where(
                purchases.c.tenant_id == tenant_id,
                purchases.c.kind == "recharge",
                purchases.c.status == "pending",
            )
            .order_by(purchases.c.id)
        ).all()
    )


def redact(url: str) -> str:
    """The URL with any password hidden (for messages), even when it cannot be parsed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO.sub(r"\g<user>:***@", url)


def parse_url(url: str) -> URL:
    """``sqlite:///path`` or ``postgresql://…`` (psycopg 3), else a clear error."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise LedgerError(
            f"malformed database URL '{redact(url)}': {str(exc).replace(url, redact(url))}",
            hint="use sqlite:///path/to/ccpolicy.db or postgresql://user@host:5432/dbname",
            code="bad-url",
        ) from None
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise LedgerError(f"unsupported SQLite driver in '{redact(url)}'", code="bad-url")
        if not parsed.database or parsed.database == ":memory:":
            raise LedgerError(
                f"'{redact(url)}' names no database file (an in-memory ledger would not persist)",
                hint="use sqlite:///path/to/ccpolicy.db",
                code="bad-url",
            )
        return parsed
    raise LedgerError(
        f"unsupported database '{parsed.drivername}' in '{redact(url)}'",
        hint="use sqlite:///path/to/ccpolicy.db or postgresql://user@host:5432/dbname",
        code="bad-url",
    )


def connect(url: str, *, create: bool) -> Engine:
    """A SQLAlchemy engine for ``url``. SQLite runs in WAL mode with a busy timeout, and
    every write transaction starts ``BEGIN IMMEDIATE`` (one writer at a time, no upgrade
    deadlocks). Without ``create``, a missing SQLite file is an error, not a new ledger."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not create and not os.path.exists(path):
            raise LedgerError(
                f"no ledger at '{path}'",
                hint="create it with `ccpolicy ledger init --tenant T.yaml --db URL`",
                code="no-ledger",
            )
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise LedgerError(f"cannot open database '{path}': no directory '{folder}'")
        if create and not os.path.exists(path):
            _create_private(path)
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
            pool_size=2,  # kept open: closing the last connection checkpoints the WAL
            max_overflow=2,
        )
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    options = parsed.query.get("options", "")
    if "lock_timeout" not in str(options):  # the URL's own setting wins
        extra = f"-c lock_timeout={int(LOCK_TIMEOUT * 1000)}"
        parsed = parsed.update_query_dict({"options": f"{options} {extra}".strip()})
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise LedgerError(f"cannot use database '{redact(url)}': {exc}", code="bad-url") from None


def _create_private(path: str) -> None:
    """Create the SQLite file readable and writable by its owner only (0600); SQLite gives
    its -wal and -shm files the same permissions."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process created it first
    except OSError as exc:
        raise LedgerError(f"cannot create database '{path}': {exc.strerror}") from None


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")
