"""Sessions: online charging — hold what a call may spend while it is up, settle at hang-up.

A switch asks before it connects a call (:meth:`SessionsMixin.begin`), reports the seconds
used so far (:meth:`~SessionsMixin.update`) and says when the call ended
(:meth:`~SessionsMixin.end`), as in Diameter Credit-Control (RFC 4006: CCR-Initial, Update,
Termination) or CGRateS SessionS. In between the ledger keeps a **hold** in the
``sessions`` table: the credits and pool minutes the granted seconds would cost. Every
other call of the tenant sees the balance and the pools *minus all open holds*, so a
switch that respects its grants cannot drive the balance below zero, however many calls
run at once and on however many nodes share the database.

The rules (reference rules R19–R25, in docs/reference.md):

* A hold prices T, the seconds granted so far, exactly as ``charge`` prices a T-second
  call (R19); each grant extends T to the largest t ≤ used + quota that what is available
  plus the session's own hold pays for (R20). Nothing affordable: a denial, no session (R21).
* The call (and with it scenario, payer, pool and rate row) is fixed at begin (R22).
* ``end`` bills clamp(used, last used, T) through the very path ``charge`` takes (R23).
* A hold that takes the available balance below the auto-recharge trigger buys the
  recharge then — at most one attempt per session, none on an update inside a failed
  episode; a failed recharge makes the grant final (R24).
* A session not heard of by ``valid_until`` + grace is settled at every granted second
  (a free one at its last reported ``used``) and marked ``expired`` (R25), by
  :meth:`~SessionsMixin.expire` or by the next session write of the tenant.

Every operation is one transaction that locks the tenant first, like ``charge``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from policy.data.call import Call, max_duration
from policy.data.tenant import Tenant
from policy.engine.binding import State
from policy.engine.decision import Decision, Event
from policy.engine.evaluate import Engine
from policy.ledger import outbox
from policy.ledger.errors import LedgerError
from policy.ledger.payments import PaymentResult
from policy.ledger.records import decision_from_json, decision_to_json
from policy.ledger.store import charges, pending_recharges, purchases, sessions, tenants

__all__ = [
    "DEFAULT_QUOTA",
    "Grant",
    "Holds",
    "SessionsMixin",
    "held",
]

DEFAULT_QUOTA = 300  # seconds per grant
ZERO = Decimal(0)
# outbox numbers of the events a grant reports (a recharge: at most one per session);
# the charge at the end numbers its own from 0
GRANT_EVENTS = 100
_WAIT = "wait"  # another call's recharge is with the payment provider
EXPIRED_NOTE = "expired: the switch abandoned the session; settled at every granted second"


class Grant(NamedTuple):
    """The answer to ``begin`` and ``update``: the authorization decision (``max_duration``
    = T, the seconds granted so far; ``balance_after`` = balance − every open hold) and
    how long the switch may let the call run from now."""

    decision: Decision
    seconds: int | None  # seconds granted beyond ``used``; None: unlimited (a free call)
    final: bool  # funds or pool minutes cap the grant: end the call when it runs out
    valid_until: datetime | None  # None for a denial

    @property
    def permitted(self) -> bool:
        return self.decision.permitted

    def to_dict(self) -> dict[str, Any]:
        out = self.decision.to_dict()
        out["grant"] = self.grant_dict()
        return out

    def grant_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "final": self.final,
            "valid_until": rfc3339(self.valid_until),
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "decision": decision_to_json(self.decision),
                "seconds": self.seconds,
                "final": self.final,
                "valid_until": None if self.valid_until is None else self.valid_until.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Grant:
        d = json.loads(text)
        until = d["valid_until"]
        return cls(
            decision_from_json(d["decision"]),
            d["seconds"],
            d["final"],
            None if until is None else datetime.fromisoformat(until),
        )


class Holds(NamedTuple):
    """What the open sessions of a tenant hold: credits, and pool minutes of one month."""

    amount: Decimal
    minutes: dict[str, int]


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, whole seconds, with ``Z`` (``valid_until`` as the switch reads it)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def held(conn: Connection, tenant_id: int, month: str, *, exclude: str | None = None) -> Holds:
    """The open holds of a tenant (credits; pool minutes of ``month``), but ``exclude``'s."""
    rows = conn.execute(
        sa.select(
            sessions.c.call_id,
            sessions.c.hold,
            sessions.c.pool,
            sessions.c.minutes,
            sessions.c.month,
        ).where(sessions.c.tenant_id == tenant_id, sessions.c.status == "open")
    ).all()
    return holds_of(rows, month, exclude=exclude)


def holds_of(rows: Sequence[Any], month: str, *, exclude: str | None = None) -> Holds:
    """The holds of these open sessions (rows with call_id, hold, pool, minutes, month)."""
    amount = ZERO
    minutes: dict[str, int] = {}
    for r in rows:
        if r.call_id == exclude:
            continue
        amount += r.hold
        if r.pool is not None and r.minutes and r.month == month:
            minutes[r.pool] = minutes.get(r.pool, 0) + r.minutes
    return Holds(amount, minutes)


def net_of(state: State, holds: Holds) -> State:
    """``state`` with the holds taken off: what every other call can use."""
    if state.balance is not None:
        state.balance -= holds.amount
    for key, minutes in holds.minutes.items():
        state.usage[key] = state.usage.get(key, 0) + minutes
    return state


_Paid = tuple[Row[Any], PaymentResult]  # a purchase and the provider's answer


class _Offer(NamedTuple):
    decision: Decision
    granted: int | None  # T (None: unmetered)
    hold: Decimal
    pool: str | None
    minutes: int
    final: bool


class SessionsMixin:
    """Online-charging sessions for :class:`~policy.ledger.Ledger` (which mixes this in).

    Settings (constructor arguments of the ledger): ``quota`` — seconds per grant (default
    300); ``grace`` — how long after ``valid_until`` an unreported session is settled
    (default: the quota); ``max_duration`` — the longest call, ``used`` and grant
    (default 24 h or ``$CCPOLICY_MAX_DURATION``).
    """

    quota: int
    grace: int
    max_duration: int | None  # the longest call, `used` and grant (reference rule R27)

    if TYPE_CHECKING:  # provided by the Ledger
        engine: Engine
        clock: Callable[[], datetime]

        def _tx(
            self, *, write: bool = True, create: bool = False
        ) -> AbstractContextManager[Connection]: ...

        def _tenant_row(self, conn: Connection, *, lock: bool) -> Row[Any]: ...

        def _need_tenant(self) -> Tenant: ...

        def _expire(self, conn: Connection, row: Row[Any], now: datetime) -> list[Row[Any]]: ...

        def _usage(self, conn: Connection, tid: int, month: str) -> dict[str, int]: ...

        def _state(
            self,
            row: Row[Any],
            open_lots: Any,
            usage: dict[str, int],
            month: str,
            now: datetime,
        ) -> State: ...

        payment_timeout: float

        def _settle_session(
            self, conn: Connection, call: Call, held_minutes: Mapping[str, int], note: str | None
        ) -> tuple[Decision, bool]: ...

        def _new_purchase(
            self,
            conn: Connection,
            tid: int,
            kind: str,
            ref: str,
            attempt: int,
            amount: Decimal,
            now: datetime,
        ) -> Row[Any]: ...

        def _ask(self, purchase: Row[Any]) -> PaymentResult: ...

        def _resolve(
            self, conn: Connection, purchase: Row[Any], result: PaymentResult, now: datetime
        ) -> bool: ...

        def _credit_alone(
            self,
            conn: Connection,
            row: Row[Any],
            purchase: Row[Any],
            result: PaymentResult,
            now: datetime,
        ) -> None: ...

        def recover(self, *, older_than: float | None = None) -> list[dict[str, Any]]: ...

    def _init_sessions(self, quota: int, grace: int | None) -> None:
        if isinstance(quota, bool) or not isinstance(quota, int) or quota < 1:
            raise LedgerError("quota must be a positive whole number of seconds")
        if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
            raise LedgerError("grace must be a whole number of seconds")
        if grace is not None and grace < 0:
            raise LedgerError("grace must not be negative")
        self.quota = quota
        self.grace = quota if grace is None else grace
        self._metered: tuple[Tenant, Tenant] | None = None

    def _longest(self) -> int:
        return self.max_duration or max_duration()

    # ---- the public API -----------------------------------------------------------------

    def begin(self, call: Call | Mapping[str, Any]) -> Grant:
        """Open a session for a call about to connect (no ``duration``; session id = call
        id) and grant it up to ``quota`` seconds. A denial stores nothing. Repeating the
        same ``begin`` of an open session returns its current grant."""
        call = call if isinstance(call, Call) else Call.from_dict(call)
        if call.duration is not None:
            raise LedgerError(
                f"call '{call.id}' has a duration: begin a session before the call connects, "
                "or charge a finished call",
                location=call.where,
                path=call.field_path("duration"),
                code="bad-session",
            )
        if len(call.id) > 200:
            raise LedgerError(f"call id '{call.id[:40]}…' is longer than 200 characters")
        self.engine.check_call(call, self._need_tenant())
        content = json.dumps(call.to_dict(), sort_keys=True)
        return self._paying(lambda conn, paid: self._begin(conn, call, content, paid))

    def update(self, call_id: str, used: int) -> Grant:
        """Report ``used`` (cumulative seconds since answer) and get a further grant."""
        used = self._seconds(used, "used")
        return self._paying(lambda conn, paid: self._update(conn, call_id, used, paid))

    def _paying(self, step: Callable[[Connection, _Paid | None], Grant | Row[Any] | str]) -> Grant:
        """Run ``step`` in a transaction until it grants. A hold that needs a recharge
        first records a pending purchase (committed); the provider is asked outside any
        transaction and the step runs again with the answer (as ``charge`` does)."""
        paid: _Paid | None = None
        tries, pause, deadline = 0, 0.005, 0.0
        while tries < 8:
            with self._tx() as conn:
                outcome = step(conn, paid)
            if isinstance(outcome, Grant):
                return outcome
            if outcome == _WAIT:
                deadline = deadline or time.monotonic() + self.payment_timeout
                if time.monotonic() < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 0.2)
                    continue
                self.recover(older_than=0)
                deadline, tries = 0.0, tries + 1
                continue
            assert not isinstance(outcome, str)
            tries += 1
            paid = (outcome, self._ask(outcome))
        raise LedgerError("the session could not be granted (conflicting writers)")

    def _begin(
        self, conn: Connection, call: Call, content: str, paid: _Paid | None
    ) -> Grant | Row[Any] | str:
        tenant = self._need_tenant()
        row = self._tenant_row(conn, lock=True)
        now = self.clock()
        row, live = self._live(conn, row, now)
        found = next((r for r in live if r.call_id == call.id), None)
        if found is None:
            found = self._earlier(conn, row.id, call.id)
        if found is not None:
            if found.status == "charged":
                raise LedgerError(f"call '{call.id}' was already charged", code="conflict")
            if found.call != content:
                raise LedgerError(
                    f"session '{call.id}' is open with a different call",
                    hint="a session id (the call id) is begun once; end it first",
                    code="conflict",
                )
            if found.status == "open":
                return Grant.from_json(found.grant)
            raise LedgerError(
                f"session '{call.id}' has already ended ({found.status})", code="conflict"
            )
        offered = self._offer(
            conn, row, call, 0, None, may_recharge=True, now=now, paid=paid, live=live
        )
        if isinstance(offered, (str, Row)):
            return offered  # a purchase to ask the provider about, or wait
        offer, tried, bought, row = offered
        if not offer.decision.permitted:
            if offer.decision.events:
                outbox.enqueue(conn, row.id, tenant.name, offer.decision, now, first=GRANT_EVENTS)
            return Grant(offer.decision, 0, True, None)
        grant = self._grant(offer, 0, now)
        expires = grant.valid_until
        conn.execute(
            sessions.insert().values(
                tenant_id=row.id,
                call_id=call.id,
                call=content,
                status="open",
                begun_at=now,
                updated_at=now,
                month=call.month,
                granted=offer.granted,
                used=0,
                hold=offer.hold,
                pool=offer.pool,
                minutes=offer.minutes,
                valid_until=expires,
                expires_at=None if expires is None else expires + timedelta(seconds=self.grace),
                final=grant.final,
                recharge_tried=tried,
                recharged=bought,
                grant=grant.to_json(),
            )
        )
        if offer.decision.events:
            outbox.enqueue(conn, row.id, tenant.name, offer.decision, now, first=GRANT_EVENTS)
        return grant

    def _update(
        self, conn: Connection, call_id: str, used: int, paid: _Paid | None
    ) -> Grant | Row[Any] | str:
        row = self._tenant_row(conn, lock=True)
        now = self.clock()
        row, live = self._live(conn, row, now)
        found = next((r for r in live if r.call_id == call_id), None) or self._known(
            conn, row.id, call_id
        )
        if found.status != "open":
            raise LedgerError(
                f"session '{call_id}' has ended ({found.status}): nothing to update",
                code="conflict",
            )
        if used < found.used:
            raise LedgerError(
                f"used {used} s is less than the {found.used} s reported before "
                "(used counts from the answer and never decreases)",
                path="used",
                code="bad-session",
            )
        if used == found.used:
            return Grant.from_json(found.grant)
        call = _call_of(found)
        may = not found.recharge_tried and not row.failing
        offered = self._offer(
            conn, row, call, used, found.granted, may_recharge=may, now=now, paid=paid, live=live
        )
        if isinstance(offered, (str, Row)):
            return offered
        offer, tried, bought, row = offered
        grant = self._grant(offer, used, now)
        assert grant.valid_until is not None
        conn.execute(
            sessions.update()
            .where(sessions.c.id == found.id)
            .values(
                updated_at=now,
                granted=offer.granted,
                used=used,
                hold=offer.hold,
                pool=offer.pool,
                minutes=offer.minutes,
                valid_until=grant.valid_until,
                expires_at=grant.valid_until + timedelta(seconds=self.grace),
                final=grant.final,
                recharge_tried=found.recharge_tried or tried,
                recharged=found.recharged + bought,
                grant=grant.to_json(),
            )
        )
        if offer.decision.events:
            tenant = self._need_tenant()
            outbox.enqueue(conn, row.id, tenant.name, offer.decision, now, first=GRANT_EVENTS)
        return grant

    def end(self, call_id: str, used: int) -> Decision:
        """The call ended after ``used`` seconds: release the hold and charge the call as
        ``charge`` would with ``duration`` = clamp(used, last used, T). Idempotent: a
        repeated (or late) ``end`` returns the first (or the expired) decision."""
        used = self._seconds(used, "used")
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=True)
            now = self.clock()
            row, live = self._live(conn, row, now)
            found = next((r for r in live if r.call_id == call_id), None) or self._known(
                conn, row.id, call_id
            )
            if found.status != "open":
                return self._settled(conn, row.id, call_id)
            if used < found.used:
                raise LedgerError(
                    f"used {used} s is less than the {found.used} s reported before",
                    path="used",
                    code="bad-session",
                )
            billed = used if found.granted is None else min(max(used, found.used), found.granted)
            return self._settle(conn, found, billed, used, "ended", None, now, live=live)

    def expire(self) -> list[Decision]:
        """Settle every session past ``valid_until`` + grace (the switch abandoned it) at
        every granted second; returns their decisions."""
        with self._tx() as conn:
            row = self._tenant_row(conn, lock=True)
            return self._settle_expired(conn, row, self.clock())

    def sessions(self) -> list[dict[str, Any]]:
        """The open sessions, oldest first: age, seconds granted and used, what each holds,
        and whether it is overdue (past ``valid_until`` + grace, settled by the next write)."""
        tenant = self._need_tenant()
        with self._tx(write=False) as conn:
            row = self._tenant_row(conn, lock=False)
            now = self.clock()
            rows = conn.execute(
                sa.select(sessions)
                .where(sessions.c.tenant_id == row.id, sessions.c.status == "open")
                .order_by(sessions.c.begun_at, sessions.c.id)
            ).all()
        return [
            {
                "call": s.call_id,
                "begun_at": rfc3339(s.begun_at),
                "age": int((now - s.begun_at).total_seconds()),
                "granted": s.granted,
                "used": s.used,
                "held": {"amount": str(s.hold), "currency": tenant.currency},
                "pool": s.pool,
                "minutes": s.minutes,
                "final": bool(s.final),
                "valid_until": rfc3339(s.valid_until),
                "expires_at": rfc3339(s.expires_at),
                "overdue": s.expires_at is not None and s.expires_at <= now,
            }
            for s in rows
        ]

    # ---- granting -----------------------------------------------------------------------

    def _metered_tenant(self) -> Tenant:
        """The tenant with auto-recharge off: a hold's recharge is bought explicitly, and a
        settlement never buys one (the hold paid for the call)."""
        tenant = self._need_tenant()
        cached = self._metered
        if cached is not None and cached[0] is tenant:
            return cached[1]
        credits = tenant.credits
        metered = tenant
        if credits is not None and credits.auto_recharge:
            metered = tenant.with_credits(dataclasses.replace(credits, funding="one_time"))
        self._metered = (tenant, metered)
        return metered

    def _available(
        self, conn: Connection, row: Row[Any], call: Call, now: datetime, live: Sequence[Row[Any]]
    ) -> State:
        alive = self._expire(conn, row, now)
        state = self._state(row, alive, self._usage(conn, row.id, call.month), call.month, now)
        return net_of(state, holds_of(live, call.month, exclude=call.id))

    def _offer(
        self,
        conn: Connection,
        row: Row[Any],
        call: Call,
        used: int,
        before: int | None,
        *,
        may_recharge: bool,
        now: datetime,
        paid: _Paid | None,
        live: Sequence[Row[Any]],
    ) -> tuple[_Offer, bool, Decimal, Row[Any]] | Row[Any] | str:
        """The grant for ``call`` at ``used`` seconds, with the recharge its hold calls for
        (reference rule R24). Returns the offer, whether a recharge was tried, what it
        bought and the tenant row as it is now — or a pending purchase to ask the provider
        about (``paid`` then brings the answer), or ``_WAIT`` while another is pending."""
        offer, state = self._price(conn, row, call, used, before, now, live)
        tenant = self._need_tenant()
        credits = tenant.credits
        trigger = credits.recharge_below if credits is not None else None
        if not (may_recharge and credits is not None and credits.auto_recharge and trigger):
            return offer, False, ZERO, row
        if paid is None:
            balance = state.balance
            assert balance is not None
            decision = offer.decision
            short = decision.denial in ("balance_exhausted", "pool_exhausted") or (
                decision.permitted and offer.final and balance < trigger
            )
            if not short and not (offer.hold > 0 and balance - offer.hold < trigger):
                return offer, False, ZERO, row
            return self._purchase(conn, row, call.id, credits.recharge_amount or ZERO, now)
        purchase, result = paid
        was_failing = bool(row.failing)
        if self._resolve(conn, purchase, result, now):
            if result.ok:
                self._credit_alone(conn, row, purchase, result, now)
            elif not was_failing:
                conn.execute(tenants.update().where(tenants.c.id == row.id).values(failing=True))
        row = self._tenant_row(conn, lock=False)
        bought = purchase.amount if result.ok else ZERO
        if result.ok:
            offer, state = self._price(conn, row, call, used, before, now, live)
            event = Event("recharge_succeeded", amount=purchase.amount)
            final = offer.final
        else:
            final = True
            event = Event("recharge_failed", amount=purchase.amount, reason=result.reason)
        decision = offer.decision
        if result.ok or not was_failing:  # a failed episode is said once
            events = (*decision.events, event)
            notices = self.engine.verdicts.notices(self.engine.bind(tenant), events)
            decision = decision._replace(events=events, notify=notices)
        return offer._replace(decision=decision, final=final), True, bought, row

    def _purchase(
        self, conn: Connection, row: Row[Any], call_id: str, amount: Decimal, now: datetime
    ) -> Row[Any] | str:
        """This session's pending recharge: a new one, or the one a crashed try left;
        ``_WAIT`` while another call's recharge is with the provider (one at a time)."""
        pending = pending_recharges(conn, row.id)
        for other in pending:
            if other.ref == call_id:
                return other
        if pending:
            return _WAIT
        attempt = conn.execute(
            sa.select(sa.func.max(purchases.c.attempt)).where(
                purchases.c.tenant_id == row.id,
                purchases.c.kind == "recharge",
                purchases.c.ref == call_id,
            )
        ).scalar()
        return self._new_purchase(
            conn, row.id, "recharge", call_id, (attempt or 0) + 1, amount, now
        )

    def _price(
        self,
        conn: Connection,
        row: Row[Any],
        call: Call,
        used: int,
        before: int | None,
        now: datetime,
        live: Sequence[Row[Any]],
    ) -> tuple[_Offer, State]:
        """Extend T as far as the available funds allow (reference rules R19–R21)."""
        state = self._available(conn, row, call, now, live)
        metered = self._metered_tenant()
        auth = self.engine.decide(call, metered, state.copy())
        if not auth.permitted:
            return _Offer(auth, None, ZERO, None, 0, True), state
        limit = auth.max_duration
        if limit is None and auth.paid_by != "credits" and auth.pool is None:
            # free or included: nothing to hold, nothing caps the call
            return _Offer(auth, None, ZERO, None, 0, False), state
        target = min(used + self.quota, self._longest())
        granted = target if limit is None else min(target, limit)
        final = limit is not None and limit < target
        granted = max(granted, before or 0)
        if granted == 0:  # reference rule R21 (the engine already says so)
            code = "pool_exhausted" if auth.pool is not None else "balance_exhausted"
            denial = auth._replace(permitted=False, paid_by="none", pool=None, denial=code)
            return _Offer(denial, None, ZERO, None, 0, True), state
        after = state.copy()
        priced = self.engine.decide(call.replace(duration=granted), metered, after)
        hold = priced.cost if priced.cost is not None else ZERO
        pool, minutes = None, 0
        for key, count in after.usage.items():
            if count != state.usage.get(key, 0):
                pool, minutes = key, count - state.usage.get(key, 0)
        balance = None if state.balance is None else state.balance - hold
        decision = auth._replace(max_duration=granted, balance_after=balance)
        return _Offer(decision, granted, hold, pool, minutes, final), state

    def _grant(self, offer: _Offer, used: int, now: datetime) -> Grant:
        if offer.granted is None:  # unmetered: report again within a quota
            return Grant(offer.decision, None, False, now + timedelta(seconds=self.quota))
        seconds = max(offer.granted - used, 0)
        final = offer.final or seconds == 0
        return Grant(offer.decision, seconds, final, now + timedelta(seconds=seconds))

    # ---- settling -----------------------------------------------------------------------

    def _settle(
        self,
        conn: Connection,
        found: Row[Any],
        billed: int,
        reported: int,
        status: str,
        note: str | None,
        now: datetime,
        *,
        live: Sequence[Row[Any]] | None = None,
    ) -> Decision:
        conn.execute(
            sessions.update()
            .where(sessions.c.id == found.id)
            .values(status=status, used=reported, hold=ZERO, minutes=0, updated_at=now)
        )
        call = _call_of(found).replace(duration=billed)
        if live is None:
            others = held(conn, found.tenant_id, call.month).minutes
        else:
            others = holds_of(live, call.month, exclude=found.call_id).minutes
        decision, _replayed = self._settle_session(conn, call, others, note)
        return decision

    def _live(
        self, conn: Connection, row: Row[Any], now: datetime
    ) -> tuple[Row[Any], list[Row[Any]]]:
        """The tenant's open sessions, after settling those past their expiry (any write
        does, reference rule R25): one query for the holds, the expiry and the session."""
        rows = conn.execute(
            sa.select(sessions).where(sessions.c.tenant_id == row.id, sessions.c.status == "open")
        ).all()
        due = [r for r in rows if r.expires_at is not None and r.expires_at <= now]
        if not due:
            return row, list(rows)
        self._settle_expired(conn, row, now)
        gone = {r.id for r in due}
        return self._tenant_row(conn, lock=False), [r for r in rows if r.id not in gone]

    def _earlier(self, conn: Connection, tid: int, call_id: str) -> Row[Any] | None:
        """A closed session of this id, or a charge of it (one query); None if neither."""
        closed = sa.select(sessions.c.status, sessions.c.call).where(
            sessions.c.tenant_id == tid, sessions.c.call_id == call_id
        )
        charged = sa.select(
            sa.literal("charged").label("status"), sa.literal("").label("call")
        ).where(charges.c.tenant_id == tid, charges.c.call_id == call_id)
        return conn.execute(sa.union_all(closed, charged)).first()

    def _settle_expired(self, conn: Connection, row: Row[Any], now: datetime) -> list[Decision]:
        due = conn.execute(
            sa.select(sessions)
            .where(
                sessions.c.tenant_id == row.id,
                sessions.c.status == "open",
                sessions.c.expires_at <= now,
            )
            .order_by(sessions.c.expires_at, sessions.c.id)
        ).all()
        out = []
        for found in due:
            billed = found.used if found.granted is None else found.granted
            out.append(self._settle(conn, found, billed, found.used, "expired", EXPIRED_NOTE, now))
        return out

    # ---- reading sessions -----------------------------------------------------------------

    def _session(self, conn: Connection, tid: int, call_id: str) -> Row[Any] | None:
        return conn.execute(
            sa.select(sessions).where(sessions.c.tenant_id == tid, sessions.c.call_id == call_id)
        ).first()

    def _known(self, conn: Connection, tid: int, call_id: str) -> Row[Any]:
        found = self._session(conn, tid, call_id)
        if found is None:
            raise LedgerError(
                f"no session '{call_id}' for tenant {self._need_tenant().name}",
                hint="begin it first (a denied begin opens no session)",
                code="unknown-session",
            )
        return found

    def _settled(self, conn: Connection, tid: int, call_id: str) -> Decision:
        text = conn.execute(
            sa.select(charges.c.decision).where(
                charges.c.tenant_id == tid, charges.c.call_id == call_id
            )
        ).scalar_one()
        return decision_from_json(text)

    def _seconds(self, value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise LedgerError(
                f"{name} must be a whole number of seconds, not {value!r}",
                path=name,
                code="bad-session",
            )
        if value < 0:
            raise LedgerError(
                f"{name} must not be negative ({value})", path=name, code="bad-session"
            )
        if value > self._longest():
            raise LedgerError(
                f"{name} {value} s is longer than the longest call ({self._longest()} s)",
                path=name,
                code="bad-session",
            )
        return value


def _call_of(found: Row[Any]) -> Call:
    return Call.from_dict(json.loads(found.call), validated=True)
