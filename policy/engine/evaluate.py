"""Evaluate: decide calls — permitted? who pays? what does it cost? who must be told?

Scenario selection is memoised per *situation* (direction, context, destination
class, caller origin, licences…): the compiled closures run once per distinct
situation, after which a decision is a few dict probes plus the money arithmetic.
State (balance, pool usage, recharge episode) lives in a :class:`~policy.engine.binding.State`;
:meth:`Engine.evaluate` works on a throw-away view of the tenant's initial state and
never changes the tenant, :meth:`Engine.run` carries state from call to call.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from policy.data.call import Call, as_call, call_from_mapping
from policy.data.numbers import NON_GEOGRAPHIC, BadNumber, NumberInfo, classify
from policy.data.tenant import Tenant
from policy.engine.binding import Binding, BoundUser, PoolRef, State
from policy.engine.compile import CompiledPolicy
from policy.engine.decision import Decision, Event, Notice, TraceEntry
from policy.engine.facts import Facts
from policy.engine.trace import Trace
from policy.language import ast
from policy.pricing.ratecard import RateCard
from policy.support.errors import EvaluationError, Location, SchemaError

if TYPE_CHECKING:  # checked as the dataclass it behaves like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["Engine"]

ENGINE = "(engine)"
_EMPTY: frozenset[str] = frozenset()
_MAX_ROUTES = 200_000
_new = tuple.__new__  # builds a Decision from its fields in order, without keywords
# The situation key takes NumberInfo[2:7] in one slice (see Engine._decide).
assert NumberInfo._fields[2:7] == (
    "country",
    "calling_code",
    "number_type",
    "emergency",
    "short_code",
)


@record(frozen=True, slots=True)
class Route:
    """What the rules say about one situation, before money and state."""

    kind: str  # free | included | pool | credits | deny
    scenario: str
    sentence: str
    trace: Sequence[TraceEntry]  # a Trace (built when read), or () for the engine's own
    denial: str | None = None
    paid_by: str = "none"
    pool: str | None = None  # pool name (resolved per user)
    payer: str | None = None  # credits payer: user | organizer | tenant
    payer_licensed: bool = True
    reason: str = ""  # a free call's reason: the sentence and a full stop, filled in

    def __post_init__(self) -> None:
        if not self.reason:
            object.__setattr__(self, "reason", self.sentence + ".")


class Observation(NamedTuple):
    """What the engine observed of a call before the rules: where the caller is, the
    number dialled, the calling number, and whether both share a country calling code.
    Writers reuse it (``Engine.decide_observed``) instead of classifying numbers again."""

    region: str  # the caller's usage location (else the tenant's country)
    number: NumberInfo  # the number dialled
    origin: NumberInfo | None  # the calling number, when the call gives one
    origin_country: str | None  # its country; for outbound calls without one, ``region``
    shares: bool  # caller and number share a country calling code (or a short code)


def origin_country_of(direction: str, origin: NumberInfo | None, region: str) -> str | None:
    """The country a call comes from (for origin rules and tariffs): the calling number's,
    else the caller's region for an outbound call; None for an inbound call without one."""
    if origin is not None:
        return origin.country
    return region if direction == "outbound" else None


class Engine:
    """A compiled policy plus a rate card: the object telephony code calls."""

    def __init__(self, policy: CompiledPolicy, ratecard: RateCard) -> None:
        self.policy = policy
        self.ratecard = ratecard
        self._routes: dict[tuple[Any, ...], Route] = {}
        self._bindings: weakref.WeakKeyDictionary[Tenant, Binding] = weakref.WeakKeyDictionary()
        self._last: tuple[Tenant, Binding] | None = None  # the tenant bound most recently
        self._zero = Decimal(0).scaleb(-ratecard.rounding.decimals)  # "0.00" in the card's places
        self._sentences: dict[str, str] = {}  # denial code → its sentence

    # ---- public API ---------------------------------------------------------------

    def with_rates(self, ratecard: RateCard) -> Engine:
        return Engine(self.policy, ratecard)

    def bind(self, tenant: Tenant) -> Binding:
        """Check ``tenant`` against the policy (cached per tenant object)."""
        last = self._last
        if last is not None and last[0] is tenant:
            return last[1]
        binding = self._bindings.get(tenant)
        if binding is None:
            currency = self.ratecard.currency
            if currency is not None and currency != tenant.currency:
                raise SchemaError(
                    f"the rate card is priced in {currency} but the tenant pays in "
                    f"{tenant.currency}",
                    location=Location(self.ratecard.source),
                    path="currency",
                    hint="use a rate card in the tenant's currency (reference rule R12)",
                )
            binding = Binding(self.policy, tenant)
            self._bindings[tenant] = binding
        self._last = (tenant, binding)
        return binding

    def evaluate(self, call: Call | Mapping[str, Any], tenant: Tenant) -> Decision:
        """Decide one call against the tenant as it is. Pure: nothing is changed."""
        last = self._last  # bind()'s fast path, inline: this runs on every call attempt
        binding = last[1] if last is not None and last[0] is tenant else self.bind(tenant)
        if not isinstance(call, Call):
            call = call_from_mapping(call)
        return self._decide(call, binding, binding.initial, commit=False)[0]

    def run(self, calls: Iterable[Call | Mapping[str, Any]], tenant: Tenant) -> Iterator[Decision]:
        """Decide calls in order against an in-memory copy of the tenant (reference: Evaluation):
        permitted calls use pool minutes and credits, trigger recharges and notifications
        for later calls. A repeated call id returns the first decision and changes nothing."""
        binding = self.bind(tenant)
        state = binding.initial.copy()
        seen: dict[str, Decision] = {}
        for raw in calls:
            call = as_call(raw)
            state.begin(call.month)
            earlier = seen.get(call.id)
            if earlier is not None:
                yield earlier
                continue
            decision = self._decide(call, binding, state, commit=True)[0]
            seen[call.id] = decision
            yield decision

    def check_call(self, call: Call, tenant: Tenant) -> None:
        """Raise a located error if the call's numbers are impossible (used before a run)."""
        binding = self.bind(tenant)
        user = binding.users.get(call.user.lower()) if call.user else None
        region = user.location if user else tenant.country
        self._number(call, "to", call.to, region)
        if call.from_:
            self._number(call, "from", call.from_, region)

    def facts(
        self, call: Call | Mapping[str, Any], tenant: Tenant, state: State | None = None
    ) -> dict[str, Any]:
        """The facts the engine derives for a call (for explanations), as plain data —
        pools and balance as in ``state`` (default: the tenant as it is)."""
        call = as_call(call)
        b = self.bind(tenant)
        state = state or b.initial
        user = b.users.get(call.user.lower()) if call.user else None
        region = user.location if user else tenant.country
        number = self._number(call, "to", call.to, region)
        zones = sorted(
            name
            for name, decl in self.policy.catalog.regions.items()
            if number.country in {c.value for c in decl.countries}
        )
        out: dict[str, Any] = {
            "destination": {
                "country": number.country,
                "number_type": number.number_type,
                "kind": self._dest_kind(region, number),
                "in": zones,
                "emergency": number.emergency,
                "short_code": number.short_code,
                "service_number": call.to in b.service_numbers,
            },
            "caller_location": region,
            "month": call.month,
        }
        if call.from_:
            origin = self._number(call, "from", call.from_, region)
            out["origin"] = {"country": origin.country, "calling_code": origin.calling_code}
        if user is not None:
            out["user"] = {
                "upn": user.upn,
                "usage_location": user.location,
                "calling_plan": user.plan,
                "licences": sorted(user.licences),
                "credits_licence": user.credits_licensed,
                "pools": {
                    name: {
                        "key": ref.key,
                        "size": ref.size,
                        "used": state.used(ref.key, call.month),
                    }
                    for name, ref in user.pools.items()
                },
            }
        if tenant.credits is not None:
            out["credits"] = {
                "balance": str(state.balance),
                "funding": tenant.credits.funding,
            }
        return out

    # ---- the decision ---------------------------------------------------------------

    def _number(self, call: Call, field: str, text: str, region: str) -> NumberInfo:
        try:
            return classify(text, region)
        except BadNumber as exc:
            raise EvaluationError(
                str(exc), location=call.where, path=call.field_path(field)
            ) from None

    def _decide(
        self, call: Call, b: Binding, state: State, *, commit: bool
    ) -> tuple[Decision, Observation | None]:
        policy = self.policy
        tenant = b.tenant
        user: BoundUser | None = None
        unknown = None
        if call.user:
            users = b.users  # keyed by the lower-cased UPN
            user = users.get(call.user) or users.get(call.user.lower())
            if user is None:
                unknown = f"'{call.user}' is not a user of tenant {tenant.name}."
        elif call.direction == "outbound" and call.context in ("user", "meeting"):
            unknown = "The call names no user (outbound calls need the calling user or organizer)."
        # Emergency calls are always connected (Evaluation), even for an unknown caller: the
        # short code is then judged in the tenant's country.
        if unknown is not None and not self._number(call, "to", call.to, tenant.country).emergency:
            return self._engine_denial(call, b, state, "unknown_user", unknown), None
        seen = self._observe(call, b, user)
        region, number, _, origin_country, shares = seen
        # The situation: everything the rules can see. number[2:7] is the number's
        # country, calling code, type, emergency and short-code flags (NumberInfo order).
        key: tuple[Any, ...] = (
            call.direction,
            call.context,
            number[2:7],
            region,
            origin_country,
            shares,
            user.licences if user is not None else _EMPTY,
            user.plan if user is not None else None,
            call.to in b.service_numbers,
        )
        if policy.uses_state:
            key += self._state_bits(b, state, user, call.month)
        route = self._routes.get(key)
        if route is None:
            facts = self._facts(call, b, state, user, region, number, origin_country, shares)
            route = self._route(facts, user)
            if len(self._routes) >= _MAX_ROUTES:
                self._routes.clear()
            self._routes[key] = route
        decision = self._settle(call, b, state, route, user, number, origin_country, commit=commit)
        return decision, seen

    def _observe(self, call: Call, b: Binding, user: BoundUser | None) -> Observation:
        """Where the caller is, what was dialled, where the call comes from, and whether
        caller and number share a country calling code."""
        region = user.location if user is not None else b.tenant.country
        try:
            number = classify(call.to, region)
        except BadNumber:
            number = self._number(call, "to", call.to, region)  # raises, located
        origin = self._number(call, "from", call.from_, region) if call.from_ else None
        if origin is not None:
            origin_code = origin.calling_code
        elif call.direction == "outbound":
            origin_code = user.calling_code if user is not None else b.tenant_calling_code
        else:
            origin_code = 0
        origin_country = origin_country_of(call.direction, origin, region)
        shares = number.short_code or number.calling_code == origin_code
        return _new(Observation, (region, number, origin, origin_country, shares))

    def _facts(
        self,
        call: Call,
        b: Binding,
        state: State,
        user: BoundUser | None,
        region: str,
        number: NumberInfo,
        origin_country: str | None,
        shares: bool,
    ) -> Facts:
        facts = Facts(
            direction=call.direction,
            context=call.context,
            number=number,
            dest_kind=self._dest_kind(region, number),
            origin_country=origin_country,
            shares_code=shares,
            licences=user.licences if user is not None else _EMPTY,
            plan=user.plan if user is not None else None,
            service_number=call.to in b.service_numbers,
        )
        if self.policy.uses_state:
            credits, positive, pools = self._state_bits(b, state, user, call.month)
            facts.credits_set_up, facts.balance_positive, facts.pools_left = (
                credits,
                positive,
                pools,
            )
        return facts

    def situation(
        self, call: Call | Mapping[str, Any], tenant: Tenant, state: State | None = None
    ) -> tuple[Facts, Route]:
        """The facts the rules see for ``call`` and the route they choose — computed afresh,
        not from the cache (for explanations, coverage and analysis tools)."""
        call = as_call(call)
        b = self.bind(tenant)
        state = state or b.initial
        user = b.users.get(call.user.lower()) if call.user else None
        region, number, _, origin_country, shares = self._observe(call, b, user)
        facts = self._facts(call, b, state, user, region, number, origin_country, shares)
        return facts, self._route(facts, user)

    def decide(self, call: Call | Mapping[str, Any], tenant: Tenant, state: State) -> Decision:
        """Decide ``call`` against ``state`` and apply it there (pools, balance, recharge
        episode). For stateful callers such as a ledger; ``state`` comes from
        ``engine.bind(tenant).initial.copy()`` or is rebuilt from storage."""
        call = as_call(call)
        state.begin(call.month)
        return self._decide(call, self.bind(tenant), state, commit=True)[0]

    def decide_observed(
        self, call: Call, tenant: Tenant, state: State
    ) -> tuple[Decision, Observation | None]:
        """:meth:`decide`, and what the engine observed of the call (None when it was
        refused before its numbers were looked at: an unknown user)."""
        if state.month is None:
            state.month = call.month  # the month the tenant's usage belongs to (begin)
        return self._decide(call, self.bind(tenant), state, commit=True)

    def _dest_kind(self, region: str, number: NumberInfo) -> str:
        if number.country == NON_GEOGRAPHIC:
            return "non_geographic"
        if number.short_code or self.policy.is_domestic(region, number.country):
            return "domestic"
        return "international"

    def _state_bits(
        self, b: Binding, state: State, user: BoundUser | None, month: str
    ) -> tuple[bool, bool, frozenset[str]]:
        credits = b.tenant.credits is not None
        positive = state.balance is not None and state.balance > 0
        pools = user.pools if user is not None else b.shared_pools
        left = frozenset(
            name for name, ref in pools.items() if ref.size - state.used(ref.key, month) > 0
        )
        return credits, positive, left

    def _route(self, facts: Facts, user: BoundUser | None) -> Route:
        """The first scenario in policy order that matches ``facts`` — tried only among
        the index's candidates — and its guards; the trace is written out when read."""
        scenarios = self.policy.scenarios
        for i in self.policy.index.candidates(facts):
            scenario = scenarios[i]
            if not scenario.test(facts):
                continue
            trace = Trace(scenarios, facts)
            for guard in scenario.guards:
                if guard.denies(facts):
                    return Route(
                        "deny", scenario.name, scenario.sentence, trace, denial=guard.denial
                    )
            return self._outcome(scenario.name, scenario.sentence, scenario.outcome, trace, user)
        trace = Trace(scenarios, facts)
        return Route("deny", "(none)", "No scenario decides this call", trace, denial="no_scenario")

    def _outcome(
        self,
        name: str,
        sentence: str,
        outcome: ast.Outcome,
        trace: Sequence[TraceEntry],
        user: BoundUser | None,
    ) -> Route:
        if isinstance(outcome, ast.PayFree):
            return Route("free", name, sentence, trace, paid_by="free")
        if isinstance(outcome, ast.PayIncluded):
            return Route("included", name, sentence, trace, paid_by=outcome.paid_by)
        if isinstance(outcome, ast.PayDeny):
            return Route("deny", name, sentence, trace, denial=outcome.denial.value)
        licensed = user is not None and user.credits_licensed
        if isinstance(outcome, ast.PayPool):
            payer = outcome.spill
            return Route(
                "pool",
                name,
                sentence,
                trace,
                pool=outcome.pool.value,
                payer=payer,
                payer_licensed=payer == "tenant" or licensed,
            )
        payer = outcome.payer
        return Route(
            "credits",
            name,
            sentence,
            trace,
            paid_by="credits",
            payer=payer,
            payer_licensed=payer == "tenant" or licensed,
        )

    # ---- money and state --------------------------------------------------------------

    def _settle(
        self,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        user: BoundUser | None,
        number: NumberInfo,
        origin: str | None,
        *,
        commit: bool,
    ) -> Decision:
        kind = route.kind
        if kind == "deny":
            assert route.denial is not None
            return self._denied(call, b, state, route, route.denial)
        duration = call.duration
        if kind == "free" or kind == "included":
            return _new(
                Decision,
                (
                    call.id,
                    True,
                    route.scenario,
                    route.paid_by,
                    route.reason,
                    b.tenant.currency,
                    None,
                    None,
                    duration,
                    None if duration is None else self._zero,
                    None,
                    duration is None,
                    state.balance,
                    (),
                    (),
                    route.trace,
                ),
            )
        settle = _Settlement(self, call, b, state, route, number, origin)
        if kind == "pool":
            pools = user.pools if user is not None else b.shared_pools
            decision = settle.pay_pool(pools.get(route.pool or ""))
        else:
            decision = settle.pay_credits()
        if duration is None:
            # An authorization changes nothing: a recharge it would trigger first counts
            # towards max_duration, but it reports no events and the balance as it is.
            if decision.events:
                decision = decision._replace(events=(), notify=(), balance_after=state.balance)
        elif commit:
            state.balance = settle.balance
            state.failing = settle.failing
            if settle.pool_use is not None:
                key, minutes = settle.pool_use
                state.add(key, call.month, minutes)
        return decision

    def _engine_denial(
        self, call: Call, b: Binding, state: State, code: str, reason: str
    ) -> Decision:
        route = Route("deny", ENGINE, reason, (), denial=code)
        return self._denied(call, b, state, route, code, reason=reason)

    def _denied(
        self,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        code: str,
        *,
        reason: str | None = None,
        events: tuple[Event, ...] = (),
        balance: Decimal | None = None,
    ) -> Decision:
        authorization = call.duration is None
        return _new(
            Decision,
            (
                call.id,
                False,
                route.scenario,
                "none",
                reason or self._sentences.get(code) or self._sentence(code),
                b.tenant.currency,
                None,
                code,
                None if authorization else 0,
                None if authorization else self._zero,
                0,
                authorization,
                balance if balance is not None else state.balance,
                events,
                self._notices(b, events) if events else (),
                route.trace,
            ),
        )

    def _decision(
        self,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        paid_by: str,
        cost: Decimal,
        seconds: int | None,
        max_duration: int | None,
        pool: str | None,
        balance: Decimal | None,
        events: tuple[Event, ...],
        detail: str,
    ) -> Decision:
        """A permitted call's decision (positional arguments: this runs on every call)."""
        return _new(
            Decision,
            (
                call.id,
                True,
                route.scenario,
                paid_by,
                f"{route.sentence}: {detail}",
                b.tenant.currency,
                pool,
                None,
                seconds,
                None if seconds is None else cost,
                max_duration,
                call.duration is None,
                balance if balance is not None else state.balance,
                events,
                self._notices(b, events) if events else (),
                route.trace,
            ),
        )

    def _sentence(self, code: str) -> str:
        sentence = self._sentences[code] = self.policy.denial_sentence(code)
        return sentence

    @staticmethod
    def _notices(b: Binding, events: tuple[Event, ...]) -> tuple[Notice, ...]:
        out = []
        for event in events:
            roles, emails = b.recipients.get(event.type, ((), ()))
            out.append(Notice(event.type, roles, emails))
        return tuple(out)


class _Settlement:
    """The money side of one call: pools, credits, recharges — computed here, committed
    by :meth:`Engine._settle` (``balance``, ``failing``, ``pool_use``)."""

    __slots__ = (
        "attempted",
        "b",
        "balance",
        "call",
        "card",
        "credits",
        "engine",
        "events",
        "failing",
        "number",
        "origin",
        "pool_use",
        "route",
        "state",
        "trigger",
    )

    def __init__(
        self,
        engine: Engine,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        number: NumberInfo,
        origin: str | None,
    ) -> None:
        self.engine = engine
        self.call = call
        self.b = b
        self.state = state
        self.route = route
        self.number = number
        self.origin = origin
        self.card = engine.ratecard
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
        engine, call = self.engine, self.call
        duration = call.duration
        denial = self.credit_denial()
        cost: Decimal | None = None
        limit: int | None = None
        if denial is None:
            if duration is None:
                denial = None if self._covers() else "no_rate"
                if denial is None:
                    # reference rule 21: an authorization is never permitted for 0 seconds
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
            return engine._denied(
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
            return engine._decision(
                call,
                self.b,
                self.state,
                self.route,
                "credits",
                engine._zero,
                None,
                limit,
                None,
                self.balance,
                self._events(),
                "paid from credits.",
            )
        assert cost is not None
        self._debit(cost)
        return engine._decision(
            call,
            self.b,
            self.state,
            self.route,
            "credits",
            cost,
            duration,
            None,
            None,
            self.balance,
            self._events(),
            f"{cost} {currency} from credits.",
        )

    def pay_pool(self, ref: PoolRef | None) -> Decision:
        engine, call, route = self.engine, self.call, self.route
        size = ref.size if ref else 0
        used = self.state.used(ref.key, call.month) if ref else 0
        left = max(size - used, 0)
        if ref is None or left == 0:
            if route.payer is None:
                return engine._denied(call, self.b, self.state, route, "pool_exhausted")
            return self.pay_credits(via_pool=ref is not None)
        pool_seconds = left * 60
        duration = call.duration
        if duration is None:
            limit: int | None = pool_seconds
            if route.payer is not None and self.credit_denial() is None and self._covers():
                tail = self._max(from_second=pool_seconds, connect_fee=False)
                limit = None if tail is None else pool_seconds + tail
            return engine._decision(
                call,
                self.b,
                self.state,
                route,
                ref.paid_by,
                engine._zero,
                None,
                limit,
                ref.key,
                self.balance,
                self._events(),
                f"{left} minutes left in pool {ref.key}.",
            )
        minutes = -(-duration // 60)
        cost = engine._zero
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
        return engine._decision(
            call,
            self.b,
            self.state,
            route,
            ref.paid_by,
            cost,
            seconds,
            None,
            ref.key,
            self.balance,
            self._events(),
            detail,
        )

    def _use_pool(self, ref: PoolRef, used: int, take: int) -> None:
        self.pool_use = (ref.key, take)
        after = used + take
        for percent in ref.warn:
            threshold = ref.size * percent
            if used * 100 < threshold <= after * 100:
                self.events.append(Event("pool_threshold", pool=ref.key, percent=percent))


__all__ += ["EvaluationError", "Observation", "Route", "origin_country_of"]
