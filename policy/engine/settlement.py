"""Settlement: the money side of one call — pools, spill-over, credits, recharges.

Given the route the rules chose (:mod:`policy.engine.route`), a call and the tenant's
state, :class:`Settlement` works out who pays and how much and returns the decision
built by :class:`~policy.engine.verdicts.Verdicts`. It never changes the state itself.
"""

from __future__ import annotations

from decimal import Decimal

from policy.data.call import Call
from policy.data.numbers import NumberInfo
from policy.engine.binding import Binding, PoolRef, State
from policy.engine.decision import Decision, Event
from policy.engine.route import Route
from policy.engine.verdicts import Verdicts
from policy.pricing.ratecard import RateCard

__all__ = ["Settlement"]


class Settlement:
    """The money side of one call: pools, credits, recharges. Computed here and returned
    as a decision (built by :class:`Verdicts`); the caller commits ``balance``,
    ``failing`` and ``pool_use`` to the state when the call really happened."""

    __slots__ = (
        "attempted",
        "b",
        "balance",
        "call",
        "card",
        "credits",
        "events",
        "failing",
        "number",
        "origin",
        "pool_use",
        "route",
        "state",
        "trigger",
        "verdicts",
        "zero",
    )

    def __init__(
        self,
        verdicts: Verdicts,
        card: RateCard,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        number: NumberInfo,
        origin: str | None,
    ) -> None:
        self.verdicts = verdicts
        self.zero = verdicts.zero
        self.call = call
        self.b = b
        self.state = state
        self.route = route
        self.number = number
        self.origin = origin
        self.card = card
        self.credits = b.tenant.credits
        self.trigger = b.trigger
        self.balance = state.balance
        self.failing = state.failing
        self.attempted = False
        self.events: list[Event] = []
        self.pool_use: tuple[str, int] | None = None

    def _events(self) -> tuple[Event, ...]:
        events = self.events
        return tuple(events) if events else ()

    # -- credits mechanics
    def _recharge(self) -> None:
        credits = self.credits
        assert credits is not None and self.balance is not None
        self.attempted = True
        if credits.payment == "ok":
            amount = credits.recharge_amount or Decimal(0)
            self.balance += amount
            self.failing = False
            self.events.append(Event("recharge_succeeded", amount=amount))
        elif not self.failing:
            self.failing = True
            self.events.append(
                Event("recharge_failed", amount=credits.recharge_amount, reason=credits.payment)
            )

    def credit_denial(self) -> str | None:
        """Why credits cannot be drawn for this call (reference rule R8's precedence), or None."""
        if not self.route.payer_licensed:
            return "no_credits_license"
        balance = self.balance
        if self.credits is None or balance is None:
            return "credits_not_set_up"
        trigger = self.trigger
        if trigger is not None and balance < trigger and not self.attempted:
            self._recharge()
            balance = self.balance
            assert balance is not None
        if balance <= 0:
            return "balance_exhausted"
        return None

    def _debit(self, cost: Decimal) -> None:
        assert self.balance is not None
        balance = self.balance - cost
        self.balance = balance
        trigger = self.trigger
        if trigger is not None and balance < trigger and not self.attempted:
            self._recharge()
            balance = self.balance
        if balance <= 0:
            self.events.append(Event("balance_zero", amount=balance))

    def _price(
        self, duration: int, from_second: int = 0, connect_fee: bool = True
    ) -> Decimal | None:
        number = self.number
        return self.card.price(
            number.digits,
            number.number_type,
            self.origin,
            self.call.start,
            duration,
            from_second=from_second,
            connect_fee=connect_fee,
        )

    def _covers(self) -> bool:
        return self.card.covers(
            self.number.digits, self.number.number_type, self.origin, self.call.start
        )

    def _max(self, *, from_second: int = 0, connect_fee: bool = True) -> int | None:
        assert self.balance is not None
        return self.card.max_duration(
            self.number.digits,
            self.number.number_type,
            self.origin,
            self.call.start,
            self.balance,
            from_second=from_second,
            connect_fee=connect_fee,
        )

    # -- outcomes
    def pay_credits(self, *, via_pool: bool = False) -> Decision:
        verdicts, call = self.verdicts, self.call
        duration = call.duration
        denial = self.credit_denial()
        cost: Decimal | None = None
        limit: int | None = None
        if denial is None:
            if duration is None:
                denial = None if self._covers() else "no_rate"
                if denial is None:
                    # reference rule R21: an authorization is never permitted for 0 seconds
                    limit = self._max()
                    if limit == 0:
                        denial = "balance_exhausted"
            else:
                number = self.number
                cost = self.card.price(
                    number.digits, number.number_type, self.origin, call.start, duration
                )
                denial = None if cost is not None else "no_rate"
        if denial is not None:
            if via_pool:
                denial = "pool_exhausted"
            return verdicts.denied(
                call,
                self.b,
                self.state,
                self.route,
                denial,
                events=self._events(),
                balance=self.balance,
            )
        currency = self.b.tenant.currency
        if duration is None:
            return verdicts.permitted(
                call,
                self.b,
                self.state,
                self.route,
                paid_by="credits",
                cost=self.zero,
                seconds=None,
                max_duration=limit,
                pool=None,
                balance=self.balance,
                events=self._events(),
                detail="paid from credits.",
            )
        assert cost is not None
        self._debit(cost)
        return verdicts.permitted(
            call,
            self.b,
            self.state,
            self.route,
            paid_by="credits",
            cost=cost,
            seconds=duration,
            max_duration=None,
            pool=None,
            balance=self.balance,
            events=self._events(),
            detail=f"{cost} {currency} from credits.",
        )

    def pay_pool(self, ref: PoolRef | None) -> Decision:
        verdicts, call, route = self.verdicts, self.call, self.route
        size = ref.size if ref else 0
        used = self.state.used(ref.key, call.month) if ref else 0
        left = max(size - used, 0)
        if ref is None or left == 0:
            if route.payer is None:
                return verdicts.denied(call, self.b, self.state, route, "pool_exhausted")
            return self.pay_credits(via_pool=ref is not None)
        pool_seconds = left * 60
        duration = call.duration
        if duration is None:
            limit: int | None = pool_seconds
            if route.payer is not None and self.credit_denial() is None and self._covers():
                tail = self._max(from_second=pool_seconds, connect_fee=False)
                limit = None if tail is None else pool_seconds + tail
            return verdicts.permitted(
                call,
                self.b,
                self.state,
                route,
                paid_by=ref.paid_by,
                cost=self.zero,
                seconds=None,
                max_duration=limit,
                pool=ref.key,
                balance=self.balance,
                events=self._events(),
                detail=f"{left} minutes left in pool {ref.key}.",
            )
        minutes = -(-duration // 60)
        cost = self.zero
        seconds = duration
        if minutes <= left:
            take = minutes
            detail = f"{minutes} min from pool {ref.key}."
        else:
            take = left
            tail_cost = None
            if route.payer is not None and self.credit_denial() is None:
                tail_cost = self._price(duration, pool_seconds, False)
            if tail_cost is not None:
                cost = tail_cost
                self._debit(cost)
                detail = (
                    f"{left} min from pool {ref.key}, the rest "
                    f"{cost} {self.b.tenant.currency} from credits."
                )
            else:
                seconds = pool_seconds
                detail = f"{left} min from pool {ref.key}; the call is cut where the pool ends."
        self._use_pool(ref, used, take)
        return verdicts.permitted(
            call,
            self.b,
            self.state,
            route,
            paid_by=ref.paid_by,
            cost=cost,
            seconds=seconds,
            max_duration=None,
            pool=ref.key,
            balance=self.balance,
            events=self._events(),
            detail=detail,
        )

    def _use_pool(self, ref: PoolRef, used: int, take: int) -> None:
        self.pool_use = (ref.key, take)
        after = used + take
        for percent in ref.warn:
            threshold = ref.size * percent
            if used * 100 < threshold <= after * 100:
                self.events.append(Event("pool_threshold", pool=ref.key, percent=percent))
