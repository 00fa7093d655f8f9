"""Ledger: the system of record for one tenant's credits, lots, pools, charges and events.

Every change is one transaction that first locks the tenant (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), rebuilds the engine's
:class:`~policy.engine.binding.State` from the tables (balance = open lots − overdraft, the
failed-recharge flag, this month's pool usage), lets :meth:`Engine.decide` decide, and
writes the outcome: the charge (unique per tenant and call id — a retry returns the
stored decision), pool minutes, lots spent first-in first-out, one history row per
balance change (so the balance is always the sum of the history) and the events'
outbox rows. A crash anywhere rolls the whole transaction back.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import DBAPIError, IntegrityError

from policy.data.call import Call, max_duration
from policy.data.tenant import Tenant
from policy.engine.binding import State
from policy.engine.decision import Decision
from policy.engine.evaluate import Engine
from policy.ledger import outbox
from policy.ledger.delivery import (
    Channel,
    DeliveryFailed,
    DeliveryReport,
    RetryPolicy,
    channel_targets,
)
from policy.ledger.errors import LedgerError
from policy.ledger.migrations import LATEST, applied_version, migrate
from policy.ledger.payments import (
    PaymentProvider,
    PaymentResult,
    SimulatedProvider,
    payment_key,
)
from policy.ledger.records import BalanceReport, LotReport, decision_from_json, decision_to_json
from policy.ledger.sessions import (
    DEFAULT_QUOTA,
    SessionsMixin,
    held,
    net_of,
)
from policy.ledger.store import (
    charges,
    connect,
    history,
    lot_spends,
    lots,
    pending_recharges,
    pool_usage,
    purchases,
    redact,
    sessions,
    tenants,
)

__all__ = ["Charged", "Ledger", "add_months"]

ZERO = Decimal(0)
LOT_LIFETIME_MONTHS = 12
MAX_DECIMALS = 6  # finer amounts are a mistake, not money
PAYMENT_TIMEOUT = 30.0  # seconds the payment provider has to answer (``payment_timeout``)
# the reason of a recharge not attempted because it could not bring the balance above zero
OVERDRAFT_EXCEEDS_RECHARGE = "overdraft_exceeds_recharge"


class Charged(NamedTuple):
    decision: Decision
    replayed: bool  # True: the call id was charged before; nothing changed


class Decided(NamedTuple):
    decision: Decision
    after: State  # the state the engine left
    payment: tuple[Row[Any], PaymentResult] | None  # the purchase that pays its recharge


_AGAIN, _WAIT, _RECOVER = "again", "wait", "recover"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` + calendar months (the 31st becomes the month's last day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    days = [
        31,
        29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _as_call(call: Call | Mapping[str, Any]) -> Call:
    return call if isinstance(call, Call) else Call.from_dict(call)


class Ledger(SessionsMixin):
    """A tenant's persistent credits ledger on ``sqlite:///path`` or ``postgresql://…``.

    ``engine`` defaults to the bundled rules (``policy.load()``); ``provider`` to the
    :class:`SimulatedProvider`; ``clock`` (aware UTC ``datetime``) decides lot expiry;
    ``payment_timeout`` (seconds, default 30) bounds one provider request;
    ``max_duration`` (seconds) is the longest call charged (default: 24 h, or
    ``$CCPOLICY_MAX_DURATION``) — a longer one is bad input, as a longer ``used`` or grant
    of a session. Online-charging sessions (``begin``/``update``/``end``/``expire``/
    ``sessions``, see :mod:`policy.ledger.sessions`) grant at most ``quota`` seconds at a
    time (default 300) and settle a session not heard of ``grace`` seconds after its grant
    ran out (default: the quota).
    """

    def __init__(
        self,
        url: str,
        engine: Engine | None = None,
        tenant: Tenant | None = None,
        *,
        provider: PaymentProvider | None = None,
        clock: Callable[[], datetime] | None = None,
        payment_timeout: float = PAYMENT_TIMEOUT,
        max_duration: int | None = None,
        quota: int = DEFAULT_QUOTA,
        grace: int | None = None,
    ) -> None:
        self.url = url
        if not payment_timeout > 0:
            raise LedgerError(f"payment_timeout must be positive, not {payment_timeout}")
        self.payment_timeout = payment_timeout
        self.max_duration = max_duration  # None: the evaluation's (24 h unless configured)
        self._init_sessions(quota, grace)
        self._recovery_due = False  # a pending purchase of another writer was seen
        self._waiting_for = 0  # the purchase another call's recharge waits for
        self.last_recovery_error: str | None = None  # why a write's recovery stopped
        if engine is None:
            from policy.pipeline import load

            engine = load()
        self.engine = engine
        self.tenant: Tenant | None = tenant
        self.provider: PaymentProvider = provider or SimulatedProvider()
        self.clock = clock or _utcnow
        self._db: SAEngine | None = None
        self._schema_ok = False
        self._variants: dict[str, Tenant] = {}
        if tenant is not None:
            engine.bind(tenant)  # a tenant the policy rejects fails here, before any write

    # ---- connection and transactions --------------------------------------------------

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _database(self, *, create: bool) -> SAEngine:
        if self._db is None:
            self._db = connect(self.url, create=create)
        return self._db

    @contextmanager
    def _tx(self, *, write: bool = True, create: bool = False) -> Iterator[Connection]:
        db = self._database(create=create)
        try:
            with db.connect() as conn:
                if not write:
                    conn = conn.execution_options(sqlite_begin="DEFERRED")
                with conn.begin():
                    if not create and not self._schema_ok:
                        self._check_schema(conn)
                    yield conn
        except IntegrityError:
            raise
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            verb = "cannot reach" if exc.connection_invalidated or _is_connect(exc) else "error in"
            raise LedgerError(
                f"{verb} database {redact(self.url)}: {detail}",
                hint="check --db / the server; nothing was written",
                code="database",
            ) from None

    def _check_schema(self, conn: Connection) -> None:
        version = applied_version(conn)
        if version == 0:
            raise LedgerError(
                f"no ledger in database {redact(self.url)}",
                hint="create it with `ccpolicy ledger init --tenant T.yaml --db URL`",
                code="no-ledger",
            )
        if version < LATEST:
            raise LedgerError(
                f"the ledger at {redact(self.url)} has schema version {version}; "
                f"this ccpolicy needs {LATEST}",
                hint="migrate it with `ccpolicy ledger init --tenant T.yaml --db URL`",
                code="schema-version",
            )
        if version > LATEST:
            raise LedgerError(
                f"the ledger at {redact(self.url)} has schema version {version}, newer than "
                f"this ccpolicy ({LATEST})",
                hint="upgrade ccpolicy",
                code="schema-version",
            )
        self._schema_ok = True

    def _need_tenant(self) -> Tenant:
        if self.tenant is None:
            raise LedgerError("no tenant: pass Ledger(url, tenant=...) or call init(tenant)")
        return self.tenant

    def _tenant_row(self, conn: Connection, *, lock: bool) -> Row[Any]:
        tenant = self._need_tenant()
        query = sa.select(tenants).where(tenants.c.name == tenant.name)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError(
                f"tenant '{tenant.name}' is not in the ledger {redact(self.url)}",
                location=tenant.location(("tenant",)),
                hint="add it with `ccpolicy ledger init --tenant T.yaml --db URL`",
                code="unknown-tenant",
            )
        return row

    # ---- setting up -------------------------------------------------------------------

    def init(
        self,
        tenant: Tenant | None = None,
        *,
        allow_foreign_billing: str | None = None,
        month: str | None = None,
    ) -> dict[str, Any]:
        """Create or migrate the schema and add the tenant: its ``credits.balance`` becomes
        the first lot (bought now), its ``usage`` the pool usage of ``month`` (default:
        the current UTC month). A tenant already present is left as it is."""
        if tenant is not None:
            self.engine.bind(tenant)
            self.tenant = tenant
            self._variants.clear()
        tenant = self._need_tenant()
        now = self.clock()
        month = month or f"{now.year:04d}-{now.month:02d}"
        with self._tx(create=True) as conn:
            applied = migrate(conn, now)
            self._schema_ok = True
            row = conn.execute(sa.select(tenants.c.id).where(tenants.c.name == tenant.name)).first()
            created = row is None
            if created:
                balance = tenant.credits.balance if tenant.credits is not None else ZERO
                tid = conn.execute(
                    tenants.insert().values(
                        name=tenant.name,
                        country=tenant.country,
                        billing_country=tenant.billing_country,
                        currency=tenant.currency,
                        overdraft=-balance if balance < 0 else ZERO,
                        failing=False,
                        foreign_billing_override=allow_foreign_billing,
                        created_at=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                if tenant.credits is not None and balance != 0:
                    lot_id = None
                    if balance > 0:
                        lot_id = self._insert_lot(conn, tid, "initial", balance, balance, now)
                    self._history(
                        conn,
                        tid,
                        now,
                        "initial",
                        balance,
                        balance,
                        lot_id=lot_id,
                        note="balance of the tenant file at init",
                    )
                if tenant.usage:
                    conn.execute(
                        pool_usage.insert(),
                        [
                            {"tenant_id": tid, "month": month, "pool": k, "minutes": v}
                            for k, v in sorted(tenant.usage.items())
                        ],
                    )
            elif allow_foreign_billing:
                self._record_override(conn, allow_foreign_billing)
        return {
            "tenant": tenant.name,
            "created": created,
            "migrations": applied,
            "schema_version": LATEST,
            "database": redact(self.url),
        }

    def allow_foreign_billing(self, reason: str) -> None:
        """Record that this tenant may buy credits although its geography differs from its
        billing country (DOMAIN: such purchases are otherwise refused)."""
        with self._tx() as conn:
            self._record_override(conn, reason)

    def _record_override(self, conn: Connection, reason: str) -> None:
        if not reason.strip():
            raise LedgerError("an override needs a reason (who allowed it, and why)")
        row = self._tenant_row(conn, lock=True)
        conn.execute(
            tenants.update().where(tenants.c.id == row.id).values(foreign_billing_override=reason)
        )

    # ---- state ------------------------------------------------------------------------

    def _open_lots(self, conn: Connection, tid: int) -> list[Row[Any]]:
        return list(
            conn.execute(
                sa.select(lots)
                .where(lots.c.tenant_id == tid, lots.c.closed.is_(False))
                .order_by(lots.c.purchased_at, lots.c.id)
            ).all()
        )

    def _expire(self, conn: Connection, row: Row[Any], now: datetime) -> list[Row[Any]]:
        """Close lots past their expiry (a history row each); returns the open lots."""
        open_lots = self._open_lots(conn, row.id)
        balance = sum((lot.remaining for lot in open_lots), ZERO) - row.overdraft
        alive = []
        for lot in open_lots:
            if lot.expires_at > now:
                alive.append(lot)
                continue
            balance -= lot.remaining
            conn.execute(
                lots.update().where(lots.c.id == lot.id).values(closed=True, remaining=ZERO)
            )
            if lot.remaining:
                note = f"lot {lot.id} bought {lot.purchased_at:%Y-%m-%d} expired"
                self._history(
                    conn, row.id, now, "expiry", -lot.remaining, balance, lot_id=lot.id, note=note
                )
        return alive

    def _usage(self, conn: Connection, tid: int, month: str) -> dict[str, int]:
        rows = conn.execute(
            sa.select(pool_usage.c.pool, pool_usage.c.minutes).where(
                pool_usage.c.tenant_id == tid, pool_usage.c.month == month
            )
        ).all()
        return {pool: minutes for pool, minutes in rows}

    def _state(
        self,
        row: Row[Any],
        open_lots: Sequence[Row[Any]],
        usage: dict[str, int],
        month: str,
        now: datetime,
    ) -> State:
        tenant = self._need_tenant()
        balance = None
        if tenant.credits is not None:
            live = (lot.remaining for lot in open_lots if lot.expires_at > now)
            balance = sum(live, ZERO) - row.overdraft
        state = State(balance, usage)
        state.failing = bool(row.failing)
        state.month = month
        return state

    # ---- deciding -----------------------------------------------------------------------

    def authorize(self, call: Call | Mapping[str, Any]) -> Decision:
        """Decide whether the call may start and for how long (``max_duration``), from the
        live state net of the open sessions' holds. Changes nothing."""
        call = _as_call(call).replace(duration=None)
        now = self.clock()
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            state = self._state(
                row,
                self._open_lots(conn, row.id),
                self._usage(conn, row.id, call.month),
                call.month,
                now,
            )
            net_of(state, held(conn, row.id, call.month))
        return self.engine.decide(call, self._need_tenant(), state)

    def charge(self, call: Call | Mapping[str, Any]) -> Decision:
        """Apply a finished call (with ``duration``) atomically; idempotent by call id."""
        return self.submit(call).decision

    def submit(self, call: Call | Mapping[str, Any]) -> Charged:
        """As :meth:`charge`, also telling whether the call id had been charged before.

        A call that triggers an auto-recharge takes three steps, so the payment provider is
        never called inside a transaction or while the tenant is locked: the purchase is
        recorded as pending (committed), the provider is asked with the purchase's
        idempotency key, and the charge is written together with the provider's answer. A
        crash between the two leaves a pending purchase that :meth:`recover` (run by the
        next write of this tenant, or ``ccpolicy ledger recover``) resolves by asking the
        provider again with the same key: the card is charged once and credited once."""
        call = _as_call(call)
        if call.duration is None:
            raise LedgerError(
                f"call '{call.id}' has no duration: authorize it, or charge it once it ended",
                location=call.where,
                path=call.field_path("duration"),
            )
        if len(call.id) > 200:
            raise LedgerError(f"call id '{call.id[:40]}…' is longer than 200 characters")
        limit = self.max_duration or max_duration()
        if call.duration > limit:
            raise LedgerError(
                f"call '{call.id}' lasts at most {limit} seconds, not {call.duration}",
                location=call.where,
                path=call.field_path("duration"),
                code="bad-duration",
            )
        paid: tuple[Row[Any], PaymentResult] | None = None
        tries, deadline = 0, 0.0
        while tries < 8:
            try:
                with self._tx() as conn:
                    outcome = self._charge(conn, call, paid)
            except IntegrityError:  # a concurrent writer charged this id first: replay
                tries += 1
                continue
            if isinstance(outcome, Charged):
                if self._recovery_due:
                    self._recover_quietly()
                return outcome
            if outcome == _WAIT:  # another call's recharge is with the provider
                deadline = deadline or time.monotonic() + self.payment_timeout
                if self._await_purchase(self._waiting_for, deadline):
                    continue
                outcome = _RECOVER
            tries += 1
            if outcome == _RECOVER:  # … for longer than its owner waits: resolve it here
                self.recover(older_than=0)
                deadline = 0.0
            elif not isinstance(outcome, str):
                # a pending purchase, committed: ask the provider outside any transaction
                paid = (outcome, self._ask(outcome))
        raise LedgerError(f"call '{call.id}' could not be charged (conflicting writers)")

    def _charge(
        self,
        conn: Connection,
        call: Call,
        paid: tuple[Row[Any], PaymentResult] | None = None,
        *,
        session: bool = False,
        held_minutes: Mapping[str, int] | None = None,
        note: str | None = None,
    ) -> Charged | Row[Any] | str:
        """Charge ``call`` in this transaction, or return the pending purchase (inserted
        here) whose answer the charge needs, or ``_WAIT`` / ``_RECOVER`` when another
        call's recharge is pending. ``paid`` is an earlier purchase of this call and the
        provider's answer to it. ``session``: the settlement of a session, whose hold paid
        for it (no recharge is bought; ``held_minutes`` are the pool minutes other sessions
        hold, which this call must not take)."""
        tenant = self._need_tenant()
        row = self._tenant_row(conn, lock=True)
        now = self.clock()
        query: sa.Select[Any] | sa.CompoundSelect[Any] = sa.select(
            sa.literal("charge").label("kind"), charges.c.decision
        ).where(charges.c.tenant_id == row.id, charges.c.call_id == call.id)
        if not session:  # and a session of the id, in the same round trip
            query = sa.union_all(
                query,
                sa.select(sa.literal("session").label("kind"), sessions.c.status).where(
                    sessions.c.tenant_id == row.id, sessions.c.call_id == call.id
                ),
            )
        found: dict[str, str] = {kind: text for kind, text in conn.execute(query)}
        stored = found.get("charge")
        if stored is not None:
            if paid is not None and self._resolve(conn, *paid, now):
                self._credit_alone(conn, row, paid[0], paid[1], now)
            return Charged(decision_from_json(stored), True)
        if "session" in found:
            self._refuse_open_session(call, found["session"])
        self._recovery_due = self._has_pending(conn, row.id, paid[0].id if paid else None)
        if paid is not None and not self._resolve(conn, *paid, now):
            paid = None  # someone else resolved and credited it: it is in the balance now
        while True:
            alive = self._expire(conn, row, now)
            usage = self._usage(conn, row.id, call.month)
            stored_pools = set(usage)
            for key, count in (held_minutes or {}).items():
                usage[key] = usage.get(key, 0) + count
            state = self._state(row, alive, usage, call.month, now)
            if session:
                after = state.copy()
                metered = self.engine.decide(call, self._metered_tenant(), after)
                decided: Decided | Row[Any] | str = Decided(metered, after, None)
                break
            decided = self._decide(conn, row, call, state, paid, now)
            if decided == _AGAIN:  # a payment was credited on its own: decide again
                paid = None
                row = self._tenant_row(conn, lock=True)
                continue
            if isinstance(decided, Decided):
                break
            return decided  # a pending purchase to ask the provider about, or wait
        assert isinstance(decided, Decided)
        decision, after, payment = decided
        old, new = state.balance, after.balance
        recharged = sum(
            (e.amount or ZERO for e in decision.events if e.type == "recharge_succeeded"), ZERO
        )
        cost = decision.cost or ZERO
        if old is not None and new is not None and old + recharged - cost != new:
            raise LedgerError(
                f"call '{call.id}': the engine's balance {new} is not {old} + {recharged} − "
                f"{cost}; nothing was written",
                code="internal",
            )
        minutes = 0
        for key, used in after.usage.items():
            before = usage.get(key)
            if before == used:
                continue
            delta = used - (before or 0)
            minutes += delta
            if key not in stored_pools:
                conn.execute(
                    pool_usage.insert().values(
                        tenant_id=row.id, month=call.month, pool=key, minutes=delta
                    )
                )
            else:
                conn.execute(
                    pool_usage.update()
                    .where(
                        pool_usage.c.tenant_id == row.id,
                        pool_usage.c.month == call.month,
                        pool_usage.c.pool == key,
                    )
                    .values(minutes=pool_usage.c.minutes + delta)
                )
        overdraft = row.overdraft
        if old is not None:
            balance = old
            credits = tenant.credits
            recharge_first = (
                credits is not None
                and credits.recharge_below is not None
                and old < credits.recharge_below
            )
            steps = [("recharge", recharged), ("charge", cost)]
            if not recharge_first:
                steps.reverse()
            for kind, amount in steps:
                if not amount:
                    continue
                if kind == "charge":
                    balance -= amount
                    hid = self._history(
                        conn, row.id, now, "charge", -amount, balance, call_id=call.id, note=note
                    )
                    overdraft = self._spend(conn, hid, alive, amount, overdraft)
                else:
                    balance += amount
                    ref = payment[1].reference if payment else None
                    lot_id = self._insert_lot(conn, row.id, "recharge", amount, amount, now, ref)
                    hid = self._history(
                        conn,
                        row.id,
                        now,
                        "recharge",
                        amount,
                        balance,
                        call_id=call.id,
                        lot_id=lot_id,
                    )
                    overdraft = self._repay(conn, hid, lot_id, amount, overdraft)
                    alive = self._open_lots(conn, row.id)
                    if payment is not None:
                        conn.execute(
                            purchases.update()
                            .where(purchases.c.id == payment[0].id)
                            .values(credited="charge", lot_id=lot_id)
                        )
        if overdraft != row.overdraft or after.failing != bool(row.failing):
            conn.execute(
                tenants.update()
                .where(tenants.c.id == row.id)
                .values(overdraft=overdraft, failing=after.failing)
            )
        conn.execute(
            charges.insert().values(
                tenant_id=row.id,
                call_id=call.id,
                at=now,
                month=call.month,
                permitted=decision.permitted,
                paid_by=decision.paid_by,
                pool=decision.pool,
                minutes=minutes,
                cost=cost,
                recharged=recharged,
                decision=decision_to_json(decision),
            )
        )
        outbox.enqueue(conn, row.id, tenant.name, decision, now)
        return Charged(decision, False)

    def _refuse_open_session(self, call: Call, status: str) -> None:
        """Reference rule R26: a call with an open session is settled by ``end``."""
        raise LedgerError(
            f"call '{call.id}' has a session ({status}): end it instead of charging it",
            location=call.where,
            code="conflict",
        )

    def _settle_session(
        self, conn: Connection, call: Call, held_minutes: Mapping[str, int], note: str | None
    ) -> Charged:
        """Charge a session's call at its billed duration (its hold is released)."""
        outcome = self._charge(conn, call, session=True, held_minutes=held_minutes, note=note)
        assert isinstance(outcome, Charged)  # a settlement buys nothing, waits for nothing
        return outcome

    def _decide(
        self,
        conn: Connection,
        row: Row[Any],
        call: Call,
        state: State,
        paid: tuple[Row[Any], PaymentResult] | None,
        now: datetime,
    ) -> Decided | Row[Any] | str:
        """Decide with the payment provider's answer: first as if a recharge would succeed;
        if the engine attempts one, the answer is needed — ``paid`` (this call's purchase,
        resolved), else a new pending purchase is returned for the caller to ask about. On
        refusal the call is decided again with that outcome (a failed episode, reference
        rule R7). A recharge that cannot bring the balance above zero (an overdraft larger
        than the recharge) is not attempted: the engine is told it failed, with the reason
        ``overdraft_exceeds_recharge`` (reference rule R24). Returns ``_AGAIN`` when
        ``paid`` was credited on its own (no longer what this call needs), ``_WAIT`` while
        another call's recharge is with the provider (one recharge at a time, so
        concurrent calls never buy one each), ``_RECOVER`` once that has taken longer than
        ``payment_timeout``."""
        tenant = self._need_tenant()
        credits = tenant.credits
        hopeful = self._variant("ok") if credits is not None and credits.auto_recharge else tenant
        after = state.copy()
        decision = self.engine.decide(call, hopeful, after)
        wanted = next((e for e in decision.events if e.type == "recharge_succeeded"), None)
        if wanted is None or state.balance is None:
            if paid is not None and paid[1].ok:
                self._credit_alone(conn, row, paid[0], paid[1], now)
                return _AGAIN
            return Decided(decision, after, None)
        amount = wanted.amount or ZERO
        if paid is not None:
            purchase, result = paid
            if result.ok and purchase.amount == amount:
                return Decided(decision, after, paid)
            if result.ok:
                self._credit_alone(conn, row, purchase, result, now)
                return _AGAIN
            return self._refused(call, state, result.reason or "declined")
        if state.balance + amount <= 0:
            return self._refused(call, state, OVERDRAFT_EXCEEDS_RECHARGE)
        if tenant.country != tenant.billing_country and not row.foreign_billing_override:
            return self._refused(call, state, "foreign_billing")
        pending = pending_recharges(conn, row.id)
        for other in pending:
            if other.ref == call.id and other.amount == amount:
                return other  # this call's own, from a try that died: ask with its key
        if pending:
            waited = (now - pending[0].created_at).total_seconds()
            self._waiting_for = pending[0].id
            return _RECOVER if waited > self.payment_timeout else _WAIT
        attempt = (
            conn.execute(
                sa.select(sa.func.max(purchases.c.attempt)).where(
                    purchases.c.tenant_id == row.id,
                    purchases.c.kind == "recharge",
                    purchases.c.ref == call.id,
                )
            ).scalar()
            or 0
        ) + 1
        return self._new_purchase(conn, row.id, "recharge", call.id, attempt, amount, now)

    def _refused(self, call: Call, state: State, reason: str) -> Decided:
        after = state.copy()
        decision = self.engine.decide(call, self._variant(reason), after)
        return Decided(decision, after, None)

    def _variant(self, payment: str) -> Tenant:
        """The tenant with ``credits.payment`` set to ``payment`` (what the engine reads)."""
        tenant = self._need_tenant()
        credits = tenant.credits
        if credits is None or credits.payment == payment:
            return tenant
        variant = self._variants.get(payment)
        if variant is None:
            variant = tenant.with_credits(dataclasses.replace(credits, payment=payment))
            self._variants[payment] = variant
        return variant

    # ---- payments: pending purchases, the provider, recovery ---------------------------------

    def _new_purchase(
        self,
        conn: Connection,
        tid: int,
        kind: str,
        ref: str,
        attempt: int,
        amount: Decimal,
        now: datetime,
    ) -> Row[Any]:
        """Record a pending purchase (committed with the caller's transaction)."""
        ident = ref if attempt == 1 else f"{ref}\n{attempt}"
        key = payment_key(self._need_tenant().name, kind, ident)
        pid = conn.execute(
            purchases.insert().values(
                tenant_id=tid,
                kind=kind,
                ref=ref,
                attempt=attempt,
                key=key,
                amount=amount,
                status="pending",
                created_at=now,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return conn.execute(sa.select(purchases).where(purchases.c.id == pid)).one()

    def _await_purchase(self, purchase_id: int, deadline: float) -> bool:
        """Wait, reading only (no write lock: the purchase's writer must get it), until the
        purchase is resolved; False if ``deadline`` (monotonic) passed first."""
        pause = 0.001
        while time.monotonic() < deadline:
            with self._tx(write=False) as conn:
                status = conn.execute(
                    sa.select(purchases.c.status).where(purchases.c.id == purchase_id)
                ).scalar()
            if status != "pending":
                return True
            time.sleep(pause)
            pause = min(pause * 2, 0.02)
        return False

    def _has_pending(self, conn: Connection, tid: int, other_than: int | None) -> bool:
        """Is a purchase pending for longer than ``payment_timeout`` (its writer died or
        gave up)? The next write of the tenant then recovers it."""
        stale = self.clock() - timedelta(seconds=self.payment_timeout)
        query = sa.select(purchases.c.id).where(
            purchases.c.tenant_id == tid,
            purchases.c.status == "pending",
            purchases.c.created_at < stale,
        )
        if other_than is not None:
            query = query.where(purchases.c.id != other_than)
        return conn.execute(query.limit(1)).first() is not None

    def _ask(self, purchase: Row[Any]) -> PaymentResult:
        """The provider's answer for a purchase, asked outside any transaction, in at most
        ``payment_timeout`` seconds; no answer leaves the purchase pending (an error)."""
        tenant = self._need_tenant()
        answer: list[PaymentResult | BaseException] = []

        def ask() -> None:
            try:
                answer.append(self.provider.charge(tenant, purchase.amount, purchase.key))
            except BaseException as exc:  # reported to the caller below
                answer.append(exc)

        worker = threading.Thread(target=ask, name="ccpolicy-payment", daemon=True)
        worker.start()
        worker.join(self.payment_timeout)
        pending = (
            f"the {purchase.kind} of {purchase.amount} {tenant.currency} stays pending; the "
            "next write of this tenant or `ccpolicy ledger recover` asks again with the same "
            "key; the call or purchase can be tried again then"
        )
        if not answer:
            raise LedgerError(
                f"the payment provider did not answer within {self.payment_timeout:g} s: {pending}",
                hint="raise --payment-timeout if your provider is slow",
                code="payment-timeout",
            )
        result = answer[0]
        if isinstance(result, BaseException):
            raise LedgerError(
                f"the payment provider failed ({type(result).__name__}): {pending}",
                code="payment-error",
            )
        return result

    def _resolve(
        self, conn: Connection, purchase: Row[Any], result: PaymentResult, now: datetime
    ) -> bool:
        """Record the provider's answer if the purchase is still pending; False when someone
        else resolved it first (then it must not be credited again)."""
        done = conn.execute(
            purchases.update()
            .where(purchases.c.id == purchase.id, purchases.c.status == "pending")
            .values(
                status="paid" if result.ok else "refused",
                resolved_at=now,
                reference=result.reference,
                reason=None if result.ok else (result.reason or "declined"),
            )
        )
        return bool(done.rowcount)

    def _credit_alone(
        self,
        conn: Connection,
        row: Row[Any],
        purchase: Row[Any],
        result: PaymentResult,
        now: datetime,
    ) -> None:
        """Credit a paid purchase as its own lot (a recharge no call's charge took, or a
        one-time purchase). A refused one changes no balance."""
        if not result.ok:
            return
        row = self._tenant_row(conn, lock=True)
        alive = self._expire(conn, row, now)
        amount = purchase.amount
        balance = sum((lot.remaining for lot in alive), ZERO) - row.overdraft + amount
        kind = purchase.kind
        lot_id = self._insert_lot(conn, row.id, kind, amount, amount, now, result.reference)
        note = (
            "one-time purchase"
            if kind == "purchase"
            else f"auto-recharge for call {purchase.ref}, credited on its own"
        )
        hid = self._history(
            conn,
            row.id,
            now,
            kind,
            amount,
            balance,
            call_id=purchase.ref,
            lot_id=lot_id,
            note=note,
        )
        overdraft = self._repay(conn, hid, lot_id, amount, row.overdraft)
        values: dict[str, Any] = {"overdraft": overdraft}
        if kind == "recharge":
            values["failing"] = False  # a successful recharge ends a failed episode
        conn.execute(tenants.update().where(tenants.c.id == row.id).values(**values))
        conn.execute(
            purchases.update()
            .where(purchases.c.id == purchase.id)
            .values(credited="alone" if kind == "recharge" else "fund", lot_id=lot_id)
        )

    def _recover_quietly(self) -> bool:
        """Recovery as a side effect of a write: best effort, the write's own result
        stands; what could not be resolved stays pending (``last_recovery_error`` says
        why) for the next write or ``ledger recover``. True if it ran through."""
        try:
            self.recover()
        except LedgerError as exc:
            self.last_recovery_error = exc.finding.message
            return False
        self.last_recovery_error = None
        return True

    def recover(self, *, older_than: float | None = None) -> list[dict[str, Any]]:
        """Resolve this tenant's pending purchases (a process died, or the provider timed
        out, between recording one and recording the provider's answer): ask the provider
        again with the same idempotency key and credit what it took, once. ``older_than``
        (seconds; default ``payment_timeout``) leaves younger ones to the writer still
        asking; 0 takes every one. Returns what was resolved; a purchase the provider
        still does not answer for stays pending (an error)."""
        age = self.payment_timeout if older_than is None else older_than
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            pending = conn.execute(
                sa.select(purchases)
                .where(
                    purchases.c.tenant_id == row.id,
                    purchases.c.status == "pending",
                    purchases.c.created_at <= self.clock() - timedelta(seconds=age),
                )
                .order_by(purchases.c.id)
            ).all()
        self._recovery_due = False
        done = []
        for purchase in pending:
            result = self._ask(purchase)
            now = self.clock()
            with self._tx() as conn:
                row = self._tenant_row(conn, lock=True)
                if self._resolve(conn, purchase, result, now):
                    self._credit_alone(conn, row, purchase, result, now)
                    done.append(
                        {
                            "kind": purchase.kind,
                            "ref": purchase.ref,
                            "amount": str(purchase.amount),
                            "status": "paid" if result.ok else "refused",
                            "reason": None if result.ok else (result.reason or "declined"),
                        }
                    )
        return done

    # ---- money movements ------------------------------------------------------------------

    def _insert_lot(
        self,
        conn: Connection,
        tid: int,
        source: str,
        amount: Decimal,
        remaining: Decimal,
        now: datetime,
        ref: str | None = None,
    ) -> int:
        lot_id: int = conn.execute(
            lots.insert().values(
                tenant_id=tid,
                source=source,
                amount=amount,
                remaining=remaining,
                purchased_at=now,
                expires_at=add_months(now, LOT_LIFETIME_MONTHS),
                closed=remaining == 0,
                payment_ref=ref,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return lot_id

    def _history(
        self,
        conn: Connection,
        tid: int,
        now: datetime,
        kind: str,
        amount: Decimal,
        balance: Decimal,
        *,
        call_id: str | None = None,
        lot_id: int | None = None,
        note: str | None = None,
    ) -> int:
        hid: int = conn.execute(
            history.insert().values(
                tenant_id=tid,
                at=now,
                kind=kind,
                amount=amount,
                balance_after=balance,
                call_id=call_id,
                lot_id=lot_id,
                note=note,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return hid

    def _spend(
        self,
        conn: Connection,
        hid: int,
        alive: Sequence[Row[Any]],
        amount: Decimal,
        overdraft: Decimal,
    ) -> Decimal:
        """Take ``amount`` from the open lots, oldest first; what no lot covers is owed."""
        due = amount
        for lot in alive:
            if not due:
                break
            current = conn.execute(
                sa.select(lots.c.remaining).where(lots.c.id == lot.id)
            ).scalar_one()
            take = min(current, due)
            if not take:
                continue
            due -= take
            left = current - take
            conn.execute(
                lots.update().where(lots.c.id == lot.id).values(remaining=left, closed=left == 0)
            )
            conn.execute(lot_spends.insert().values(history_id=hid, lot_id=lot.id, amount=take))
        return overdraft + due

    def _repay(
        self, conn: Connection, hid: int, lot_id: int, amount: Decimal, overdraft: Decimal
    ) -> Decimal:
        """A new lot first pays back what was spent beyond every lot."""
        pay = min(overdraft, amount)
        if pay > 0:
            left = amount - pay
            conn.execute(
                lots.update().where(lots.c.id == lot_id).values(remaining=left, closed=left == 0)
            )
            conn.execute(lot_spends.insert().values(history_id=hid, lot_id=lot_id, amount=pay))
        return overdraft - pay if pay > 0 else overdraft

    # ---- funding ------------------------------------------------------------------------

    def fund(
        self,
        amount: Decimal | str,
        *,
        purchase_id: str | None = None,
        allow_foreign_billing: str | None = None,
    ) -> BalanceReport:
        """A one-time purchase through the payment provider: a lot of ``amount`` that
        expires 12 months from now. Refused (no money moved) for a non-positive amount, a
        tenant without credits, a geography that differs from the billing country without
        a recorded override, or a refused payment (recorded as a refused purchase).
        ``purchase_id`` makes a retry safe. As for a recharge, the provider is asked
        outside any transaction, between recording the purchase and crediting it."""
        tenant = self._need_tenant()
        value = _amount(amount)
        if tenant.credits is None:
            raise LedgerError(
                f"tenant '{tenant.name}' has no Communications Credits set up",
                location=tenant.location(("tenant",)),
                hint="add a credits: section to the tenant file",
                code="credits-not-set-up",
            )
        key = purchase_id or uuid.uuid4().hex
        with self._tx() as conn:
            if allow_foreign_billing:
                self._record_override(conn, allow_foreign_billing)
            row = self._tenant_row(conn, lock=True)
            self._recovery_due = self._has_pending(conn, row.id, None)
            purchase = conn.execute(
                sa.select(purchases).where(
                    purchases.c.tenant_id == row.id,
                    purchases.c.kind == "purchase",
                    purchases.c.ref == key,
                )
            ).first()
            if purchase is not None and purchase.status == "paid":
                return self._report(conn, row, self.clock())
            if purchase is None and purchase_id is not None:  # bought before version 3
                done = conn.execute(
                    sa.select(history.c.id).where(
                        history.c.tenant_id == row.id,
                        history.c.kind == "purchase",
                        history.c.call_id == purchase_id,
                    )
                ).first()
                if done is not None:
                    return self._report(conn, row, self.clock())
            if purchase is None:
                if tenant.country != tenant.billing_country and not row.foreign_billing_override:
                    raise LedgerError(
                        f"tenant '{tenant.name}' cannot buy credits: its geography "
                        f"({tenant.country}) differs from its billing country "
                        f"({tenant.billing_country})",
                        location=tenant.location(("billing_country",)),
                        hint="if your agreement allows it, record an override with "
                        "--allow-foreign-billing REASON",
                        code="foreign-billing",
                    )
                purchase = self._new_purchase(conn, row.id, "purchase", key, 1, value, self.clock())
        if self._recovery_due:
            self._recover_quietly()
        result = (
            PaymentResult(False, purchase.reason)
            if purchase.status == "refused"
            else self._ask(purchase)
        )
        now = self.clock()
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=True)
            if self._resolve(conn, purchase, result, now):
                self._credit_alone(conn, row, purchase, result, now)
            report = self._report(conn, self._tenant_row(conn, lock=False), now)
        if not result.ok:
            raise LedgerError(
                f"payment of {purchase.amount} {tenant.currency} refused: {result.reason}",
                location=tenant.location(("credits", "payment")),
                code="payment-refused",
            )
        return report

    # ---- reading ------------------------------------------------------------------------

    def balance(self) -> BalanceReport:
        """The balance and the open lots; lots past their expiry are closed first (that is
        a balance change, so it is written to the history)."""
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=True)
            now = self.clock()
            self._expire(conn, row, now)
            self._recovery_due = self._has_pending(conn, row.id, None)
            report = self._report(conn, row, now)
        if not self._recovery_due or not self._recover_quietly():
            return report
        with self._tx(write=False) as conn:
            return self._report(conn, self._tenant_row(conn, lock=False), self.clock())

    def _report(self, conn: Connection, row: Row[Any], now: datetime) -> BalanceReport:
        tenant = self._need_tenant()
        alive = [lot for lot in self._open_lots(conn, row.id) if lot.expires_at > now]
        balance = None
        if tenant.credits is not None:
            balance = sum((lot.remaining for lot in alive), ZERO) - row.overdraft
        return BalanceReport(
            tenant=tenant.name,
            currency=tenant.currency,
            balance=balance,
            overdraft=row.overdraft,
            failing=bool(row.failing),
            dead_letters=outbox.dead_count(conn, row.id),
            lots=tuple(
                LotReport(
                    lot.id, lot.source, lot.amount, lot.remaining, lot.purchased_at, lot.expires_at
                )
                for lot in alive
            ),
        )

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Balance changes, oldest first (the last ``limit`` ones)."""
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            query = sa.select(history).where(history.c.tenant_id == row.id)
            if limit is not None:
                query = query.order_by(history.c.id.desc()).limit(limit)
            rows = sorted(conn.execute(query).all(), key=lambda r: r.id)
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "kind": r.kind,
                "amount": str(r.amount),
                "balance_after": str(r.balance_after),
                "call": r.call_id,
                "lot": r.lot_id,
                "note": r.note,
            }
            for r in rows
        ]

    def pools(self, month: str | None = None) -> list[dict[str, Any]]:
        """Each pool's size, minutes used and minutes left in ``month`` (default: now)."""
        tenant = self._need_tenant()
        now = self.clock()
        month = month or f"{now.year:04d}-{now.month:02d}"
        sizes = self.engine.bind(tenant).pool_sizes
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            used = self._usage(conn, row.id, month)
        return [
            {
                "month": month,
                "pool": key,
                "size": sizes.get(key, 0),
                "used": used.get(key, 0),
                "left": max(sizes.get(key, 0) - used.get(key, 0), 0),
            }
            for key in sorted(set(sizes) | set(used))
        ]

    def charged(self) -> list[Decision]:
        """Every stored decision, in the order the charges were committed."""
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            texts = conn.execute(
                sa.select(charges.c.decision)
                .where(charges.c.tenant_id == row.id)
                .order_by(charges.c.id)
            ).scalars()
            return [decision_from_json(t) for t in texts]

    def verify(self) -> list[str]:
        """Check the ledger's invariants; returns the problems found (none: consistent).

        The balance (open lots − overdraft) equals the sum of the history; every lot's
        spent part equals its recorded spends (+ expiry); charges and recharges equal their
        history rows."""
        problems: list[str] = []
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            tid = row.id
            all_lots = conn.execute(sa.select(lots).where(lots.c.tenant_id == tid)).all()
            rows = conn.execute(sa.select(history).where(history.c.tenant_id == tid)).all()
            spends = conn.execute(
                sa.select(lot_spends)
                .join(lots, lots.c.id == lot_spends.c.lot_id)
                .where(lots.c.tenant_id == tid)
            ).all()
            charge_rows = conn.execute(
                sa.select(charges.c.call_id, charges.c.cost, charges.c.recharged).where(
                    charges.c.tenant_id == tid
                )
            ).all()
            session_rows = conn.execute(
                sa.select(sessions.c.call_id, sessions.c.hold).where(sessions.c.tenant_id == tid)
            ).all()
            paid = conn.execute(
                sa.select(purchases).where(
                    purchases.c.tenant_id == tid, purchases.c.status == "paid"
                )
            ).all()
        total = sum((r.amount for r in rows), ZERO)
        open_sum = sum((lot.remaining for lot in all_lots if not lot.closed), ZERO)
        if open_sum - row.overdraft != total:
            problems.append(
                f"open lots {open_sum} − overdraft {row.overdraft} ≠ sum of history {total}"
            )
        if rows:
            last = max(rows, key=lambda r: r.id)
            if last.balance_after != total:
                problems.append(f"last history balance {last.balance_after} ≠ sum {total}")
        spent: dict[int, Decimal] = {}
        for s in spends:
            spent[s.lot_id] = spent.get(s.lot_id, ZERO) + s.amount
        for r in rows:
            if r.kind == "expiry" and r.lot_id is not None:
                spent[r.lot_id] = spent.get(r.lot_id, ZERO) - r.amount
        for lot in all_lots:
            if lot.remaining < 0 or lot.remaining > lot.amount:
                problems.append(f"lot {lot.id}: remaining {lot.remaining} of {lot.amount}")
            if lot.amount - lot.remaining != spent.get(lot.id, ZERO):
                problems.append(
                    f"lot {lot.id}: {lot.amount - lot.remaining} used but "
                    f"{spent.get(lot.id, ZERO)} recorded"
                )
        by_kind: dict[str, Decimal] = {}
        for r in rows:
            by_kind[r.kind] = by_kind.get(r.kind, ZERO) + r.amount
        costs = sum((c.cost for c in charge_rows), ZERO)
        recharges = sum((c.recharged for c in charge_rows), ZERO)
        for s in session_rows:
            if s.hold < 0:
                problems.append(f"session {s.call_id}: negative hold {s.hold}")
        if -by_kind.get("charge", ZERO) != costs:
            problems.append(f"charges {costs} ≠ charge history {-by_kind.get('charge', ZERO)}")
        alone = sum((p.amount for p in paid if p.credited == "alone"), ZERO)
        if by_kind.get("recharge", ZERO) != recharges + alone:
            problems.append(
                f"recharges {recharges} + {alone} credited on their own ≠ history "
                f"{by_kind.get('recharge', ZERO)}"
            )
        lot_ids = {lot.id for lot in all_lots}
        for p in paid:
            if p.lot_id not in lot_ids:
                problems.append(f"{p.kind} {p.ref!r} was paid but never credited")
        if row.overdraft < 0:
            problems.append(f"negative overdraft {row.overdraft}")
        return problems

    # ---- notifications --------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        """Deliveries given up on after ``RetryPolicy.max_attempts`` failed attempts."""
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            return outbox.dead(conn, row.id)

    def revive(self, ids: Sequence[int] | None = None) -> int:
        """Re-queue dead deliveries (all, or the ``ids`` given): due now, attempts from 0."""
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=False)
            return outbox.revive(conn, row.id, self.clock(), ids)

    def notify(
        self,
        channels: Sequence[Channel],
        *,
        dry_run: bool = False,
        retry: RetryPolicy | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 10,
    ) -> DeliveryReport:
        """Deliver the outbox: each event to each recipient on each channel, at least once
        (dedupe key per event and recipient). ``dry_run`` lists what would be sent.

        Deliveries are claimed ``batch`` at a time with a ``lease`` naming this run, and
        the lease of each is renewed just before it is sent: another notifier never sends
        it while this one is alive (one send must take less than ``lease``: the channels'
        timeouts are shorter), and a killed notifier's claims lapse after ``lease``."""
        retry = retry or RetryPolicy()
        report = DeliveryReport()
        targets = channel_targets(channels)
        by_target = {(c.name, c.target): c for c in channels}
        if dry_run:
            with self._tx(write=False) as conn:
                row = self._tenant_row(conn, lock=False)
                report.pending = outbox.preview(conn, row.id, targets, self.clock())
            return report
        tried: set[int] = set()
        owner = uuid.uuid4().hex
        while True:
            now = self.clock()
            with self._tx() as conn:
                row = self._tenant_row(conn, lock=True)  # one expander at a time
                outbox.expand(conn, row.id, targets, now)
                jobs = outbox.claim(
                    conn, row.id, now, lease=lease, limit=batch, exclude=tried, owner=owner
                )
            if not jobs:
                return report
            for job in jobs:
                tried.add(job.delivery_id)
                with self._tx() as conn:
                    if not outbox.renew(conn, job, owner, self.clock() + lease):
                        continue  # our lease lapsed and another notifier has it
                channel = by_target.get(
                    (job.channel, None if job.channel == "email" else job.recipient)
                )
                error = None
                if channel is None:
                    error = f"no {job.channel} channel configured for {job.recipient}"
                else:
                    try:
                        channel.send(job)
                    except DeliveryFailed as exc:
                        error = str(exc)
                    except Exception as exc:  # any failure is a counted attempt, never a crash
                        error = f"{job.channel}: {type(exc).__name__}: {exc}"
                done = self.clock()
                with self._tx() as conn:
                    if error is None:
                        outbox.mark_sent(conn, job, done)
                        report.sent.append(job)
                    else:
                        retry_at = retry.next_attempt(done, job.attempts + 1)
                        outbox.mark_failed(conn, job, done, error, retry_at)
                        report.failed.append((job, error))


def _amount(amount: Decimal | str) -> Decimal:
    try:
        value = Decimal(str(amount))
    except ArithmeticError:
        raise LedgerError(f"'{amount}' is not an amount (use a decimal such as 50.00)") from None
    if not value.is_finite() or value <= 0:
        raise LedgerError(f"the amount must be positive, not {amount}", code="bad-amount")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_DECIMALS:
        raise LedgerError(f"{amount} has more than {MAX_DECIMALS} decimals", code="bad-amount")
    return value


def _is_connect(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return any(
        word in text
        for word in ("connection", "could not connect", "unable to open", "timeout", "refused")
    )
