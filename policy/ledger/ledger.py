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

from policy.data.call import Call
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
    DEFAULT_MAX_SECONDS,
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
    pool_usage,
    redact,
    sessions,
    tenants,
)

__all__ = ["Charged", "Ledger", "add_months"]

ZERO = Decimal(0)
LOT_LIFETIME_MONTHS = 12
MAX_DECIMALS = 6  # finer amounts are a mistake, not money


class Charged(NamedTuple):
    decision: Decision
    replayed: bool  # True: the call id was charged before; nothing changed


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
    :class:`SimulatedProvider`; ``clock`` (aware UTC ``datetime``) decides lot expiry.
    Online-charging sessions (``begin``/``update``/``end``/``expire``/``sessions``, see
    :mod:`policy.ledger.sessions`) grant at most ``quota`` seconds at a time (default
    300), settle a session not heard of ``grace`` seconds after its grant ran out
    (default: the quota) and refuse calls longer than ``max_seconds`` (default 24 h).
    """

    def __init__(
        self,
        url: str,
        engine: Engine | None = None,
        tenant: Tenant | None = None,
        *,
        provider: PaymentProvider | None = None,
        clock: Callable[[], datetime] | None = None,
        quota: int = DEFAULT_QUOTA,
        grace: int | None = None,
        max_seconds: int = DEFAULT_MAX_SECONDS,
    ) -> None:
        self._init_sessions(quota, grace, max_seconds)
        self.url = url
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
        """As :meth:`charge`, also telling whether the call id had been charged before."""
        call = _as_call(call)
        if call.duration is None:
            raise LedgerError(
                f"call '{call.id}' has no duration: authorize it, or charge it once it ended",
                location=call.where,
                path=call.field_path("duration"),
            )
        if len(call.id) > 200:
            raise LedgerError(f"call id '{call.id[:40]}…' is longer than 200 characters")
        if call.duration > self.max_seconds:
            raise LedgerError(
                f"call '{call.id}' lasted {call.duration} s, longer than the longest call "
                f"({self.max_seconds} s)",
                location=call.where,
                path=call.field_path("duration"),
            )
        for _ in range(3):
            try:
                with self._tx() as conn:
                    return self._charge(conn, call)
            except IntegrityError:  # a concurrent writer charged this id first: replay
                continue
        raise LedgerError(f"call '{call.id}' could not be charged (conflicting writers)")

    def _charge(
        self,
        conn: Connection,
        call: Call,
        *,
        session: bool = False,
        held_minutes: Mapping[str, int] | None = None,
        note: str | None = None,
    ) -> Charged:
        """Charge ``call``. ``session``: the settlement of a session, whose hold paid for it
        (no recharge is bought; ``held_minutes`` are the pool minutes other sessions hold,
        which this call must not take)."""
        tenant = self._need_tenant()
        row = self._tenant_row(conn, lock=True)
        stored = conn.execute(
            sa.select(charges.c.decision).where(
                charges.c.tenant_id == row.id, charges.c.call_id == call.id
            )
        ).scalar()
        if stored is not None:
            return Charged(decision_from_json(stored), True)
        if not session:
            self._refuse_open_session(conn, row.id, call)
        now = self.clock()
        alive = self._expire(conn, row, now)
        usage = self._usage(conn, row.id, call.month)
        stored_pools = set(usage)
        for key, count in (held_minutes or {}).items():
            usage[key] = usage.get(key, 0) + count
        state = self._state(row, alive, usage, call.month, now)
        if session:
            after = state.copy()
            decision = self.engine.decide(call, self._metered_tenant(), after)
            payment = None
        else:
            decision, after, payment = self._decide(call, state)
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
                    ref = payment.reference if payment else None
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

    def _refuse_open_session(self, conn: Connection, tid: int, call: Call) -> None:
        """Reference rule 26: a call with an open session is settled by ``end``."""
        found = conn.execute(
            sa.select(sessions.c.status).where(
                sessions.c.tenant_id == tid, sessions.c.call_id == call.id
            )
        ).scalar()
        if found is not None:
            raise LedgerError(
                f"call '{call.id}' has a session ({found}): end it instead of charging it",
                location=call.where,
                code="conflict",
            )

    def _recharge_for_hold(
        self, conn: Connection, row: Row[Any], call_id: str, now: datetime
    ) -> tuple[PaymentResult, Decimal]:
        """Buy the auto-recharge a session's hold triggered (reference rule 24): a lot and a
        history row, or the failed-recharge flag."""
        tenant = self._need_tenant()
        credits = tenant.credits
        assert credits is not None
        amount = credits.recharge_amount or ZERO
        result = self._pay(amount, payment_key(tenant.name, "hold-recharge", call_id))
        if not result.ok:
            if not row.failing:
                conn.execute(tenants.update().where(tenants.c.id == row.id).values(failing=True))
            return result, ZERO
        alive = self._expire(conn, row, now)
        balance = sum((lot.remaining for lot in alive), ZERO) - row.overdraft + amount
        lot_id = self._insert_lot(conn, row.id, "recharge", amount, amount, now, result.reference)
        hid = self._history(
            conn,
            row.id,
            now,
            "recharge",
            amount,
            balance,
            call_id=call_id,
            lot_id=lot_id,
            note="auto-recharge: a session's hold took the available balance below the trigger",
        )
        overdraft = self._repay(conn, hid, lot_id, amount, row.overdraft)
        conn.execute(
            tenants.update()
            .where(tenants.c.id == row.id)
            .values(overdraft=overdraft, failing=False)
        )
        return result, amount

    def _decide(self, call: Call, state: State) -> tuple[Decision, State, PaymentResult | None]:
        """Decide with the payment provider's answer: first as if a recharge would succeed;
        if the engine attempts one, the provider is asked, and on refusal the call is
        decided again with that outcome (a failed episode, SPEC ruling 7)."""
        tenant = self._need_tenant()
        credits = tenant.credits
        hopeful = self._variant("ok") if credits is not None and credits.auto_recharge else tenant
        after = state.copy()
        decision = self.engine.decide(call, hopeful, after)
        wanted = next((e for e in decision.events if e.type == "recharge_succeeded"), None)
        if wanted is None:
            return decision, after, None
        result = self._pay(wanted.amount or ZERO, payment_key(tenant.name, "recharge", call.id))
        if result.ok:
            return decision, after, result
        after = state.copy()
        decision = self.engine.decide(call, self._variant(result.reason or "declined"), after)
        return decision, after, result

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

    def _pay(self, amount: Decimal, key: str, *, override: str | None = None) -> PaymentResult:
        tenant = self._need_tenant()
        if tenant.country != tenant.billing_country and not override:
            return PaymentResult(False, "foreign_billing")
        return self.provider.charge(tenant, amount, key)

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
        expires 12 months from now. Refused (nothing written) for a non-positive amount, a
        tenant without credits, a geography that differs from the billing country without
        a recorded override, or a refused payment. ``purchase_id`` makes a retry safe."""
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
            if purchase_id is not None:
                done = conn.execute(
                    sa.select(history.c.id).where(
                        history.c.tenant_id == row.id,
                        history.c.kind == "purchase",
                        history.c.call_id == purchase_id,
                    )
                ).first()
                if done is not None:
                    return self._report(conn, row, self.clock())
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
            result = self._pay(
                value,
                payment_key(tenant.name, "purchase", key),
                override=row.foreign_billing_override,
            )
            if not result.ok:
                raise LedgerError(
                    f"payment of {value} {tenant.currency} refused: {result.reason}",
                    location=tenant.location(("credits", "payment")),
                    code="payment-refused",
                )
            now = self.clock()
            alive = self._expire(conn, row, now)
            balance = sum((lot.remaining for lot in alive), ZERO) - row.overdraft + value
            lot_id = self._insert_lot(conn, row.id, "purchase", value, value, now, result.reference)
            hid = self._history(
                conn,
                row.id,
                now,
                "purchase",
                value,
                balance,
                call_id=purchase_id,
                lot_id=lot_id,
                note="one-time purchase",
            )
            overdraft = self._repay(conn, hid, lot_id, value, row.overdraft)
            if overdraft != row.overdraft:
                conn.execute(
                    tenants.update().where(tenants.c.id == row.id).values(overdraft=overdraft)
                )
            return self._report(conn, self._tenant_row(conn, lock=False), now)

    # ---- reading ------------------------------------------------------------------------

    def balance(self) -> BalanceReport:
        """The balance and the open lots; lots past their expiry are closed first (that is
        a balance change, so it is written to the history)."""
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=True)
            now = self.clock()
            self._expire(conn, row, now)
            return self._report(conn, row, now)

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
                sa.select(sessions.c.call_id, sessions.c.recharged, sessions.c.hold).where(
                    sessions.c.tenant_id == tid
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
        recharges += sum((s.recharged for s in session_rows), ZERO)  # bought by holds
        for s in session_rows:
            if s.hold < 0:
                problems.append(f"session {s.call_id}: negative hold {s.hold}")
        if -by_kind.get("charge", ZERO) != costs:
            problems.append(f"charges {costs} ≠ charge history {-by_kind.get('charge', ZERO)}")
        if by_kind.get("recharge", ZERO) != recharges:
            problems.append(f"recharges {recharges} ≠ history {by_kind.get('recharge', ZERO)}")
        if row.overdraft < 0:
            problems.append(f"negative overdraft {row.overdraft}")
        return problems

    # ---- notifications --------------------------------------------------------------------

    def notify(
        self,
        channels: Sequence[Channel],
        *,
        dry_run: bool = False,
        retry: RetryPolicy | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 200,
    ) -> DeliveryReport:
        """Deliver the outbox: each event to each recipient on each channel, at least once
        (dedupe key per event and recipient). ``dry_run`` lists what would be sent."""
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
        while True:
            now = self.clock()
            with self._tx() as conn:
                row = self._tenant_row(conn, lock=False)
                outbox.expand(conn, row.id, targets, now)
                jobs = outbox.claim(conn, row.id, now, lease=lease, limit=batch, exclude=tried)
            if not jobs:
                return report
            for job in jobs:
                tried.add(job.delivery_id)
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
