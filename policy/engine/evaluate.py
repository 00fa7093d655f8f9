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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from policy.data.call import Call, as_call, call_from_mapping
from policy.data.numbers import NON_GEOGRAPHIC, BadNumber, NumberInfo, classify
from policy.data.tenant import Tenant
from policy.engine.binding import Binding, BoundUser, State
from policy.engine.compile import CompiledPolicy
from policy.engine.decision import Decision, TraceEntry
from policy.engine.facts import Facts
from policy.engine.route import Route
from policy.engine.settlement import Settlement
from policy.engine.trace import Trace
from policy.engine.verdicts import Verdicts
from policy.language import ast
from policy.pricing.ratecard import RateCard
from policy.support.errors import EvaluationError, Location, SchemaError

__all__ = ["Engine"]

T = TypeVar("T")

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


class Observation(NamedTuple):
    """What the engine observed of a call before the rules: where the caller is, the
    number dialled, the calling number, and whether both share a country calling code.
    Writers reuse it (``Engine.decide_observed``) instead of classifying numbers again."""

    region: str  # the caller's usage location (else the tenant's country)
    number: NumberInfo  # the number dialled
    origin: NumberInfo | None  # the calling number, when the call gives one
    origin_country: str | None  # its country; for outbound calls without one, ``region``
    shares: bool  # caller and number share a country calling code (or a short code)
    origin_code: int  # the country calling code the call comes from (0: unknown)


def origin_country_of(direction: str, origin: NumberInfo | None, region: str) -> str | None:
    """The country a call comes from (for origin rules and tariffs): the calling number's,
    else the caller's region for an outbound call; None for an inbound call without one."""
    if origin is not None:
        return origin.country
    return region if direction == "outbound" else None


def origin_calling_code(
    direction: str, origin: NumberInfo | None, number: NumberInfo, own_code: int
) -> int:
    """The country calling code a call comes from (0 = unknown): the calling number's;
    for an outbound call without one, ``own_code`` (the caller's usage location's). An
    inbound call to a toll-free number with its caller ID withheld comes from inside the
    number's own calling code: a carrier only delivers a toll-free call from where the
    number is reachable (reference rule R18)."""
    if origin is not None:
        return origin.calling_code
    if direction == "outbound":
        return own_code
    return number.calling_code if number.number_type == "toll_free" else 0


class Engine:
    """A compiled policy plus a rate card: the object telephony code calls."""

    def __init__(self, policy: CompiledPolicy, ratecard: RateCard) -> None:
        self.policy = policy
        self.ratecard = ratecard
        self._routes: dict[tuple[Any, ...], Route] = {}
        self._bindings: weakref.WeakKeyDictionary[Tenant, Binding] = weakref.WeakKeyDictionary()
        self._last: tuple[Tenant, Binding] | None = None  # the tenant bound most recently
        # Decisions are built by the verdicts; "0.00" in the card's places is their zero.
        self.verdicts = Verdicts(policy, Decimal(0).scaleb(-ratecard.rounding.decimals))

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
            binding = Binding(self.policy, tenant)  # unknown names first: the likelier cause
            currency = self.ratecard.currency
            if currency is not None and currency != tenant.currency:
                raise SchemaError(
                    f"the rate card is priced in {currency} but the tenant pays in "
                    f"{tenant.currency}",
                    location=Location(self.ratecard.source),
                    path="currency",
                    hint="use a rate card in the tenant's currency (reference rule R12)",
                )
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
        return self.replay(calls, tenant, self._step)

    def replay(
        self,
        calls: Iterable[Call | Mapping[str, Any]],
        tenant: Tenant,
        step: Callable[[Call, Binding, State], T],
        repeat: Callable[[T], T] | None = None,
    ) -> Iterator[T]:
        """The one run loop: ``step(call, binding, state)`` for each call in order, against
        an in-memory copy of the tenant's state, each call's month begun first. A repeated
        call id (reference rule R15) does not step again: it yields the first result (or
        ``repeat(first)``). :meth:`run` steps with :meth:`decide`; explanations and policy
        tests step with their own observers around it."""
        binding = self.bind(tenant)
        state = binding.initial.copy()
        seen: dict[str, T] = {}
        for raw in calls:
            call = as_call(raw)
            state.begin(call.month)
            earlier = seen.get(call.id)
            if earlier is not None:
                yield earlier if repeat is None else repeat(earlier)
                continue
            result = step(call, binding, state)
            seen[call.id] = result
            yield result

    def _step(self, call: Call, b: Binding, state: State) -> Decision:
        return self._decide(call, b, state, commit=True)[0]

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
        """The engine's observation of a call (:meth:`observe`) and the tenant's side of it
        (user, pools, credits) as plain data, for explanations — pools and balance as in
        ``state`` (default: the tenant as it is). Nothing is derived a second way."""
        call = as_call(call)
        b = self.bind(tenant)
        state = state or b.initial
        user = b.users.get(call.user.lower()) if call.user else None
        region, number, origin, _, _, _ = self._observe(call, b, user)  # what decisions see
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
        if origin is not None:
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
            return self.verdicts.engine_denial(call, b, state, "unknown_user", unknown), None
        seen = self._observe(call, b, user)
        region, number, _, origin_country, shares, _ = seen
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
        own_code = user.calling_code if user is not None else b.tenant_calling_code
        origin_code = origin_calling_code(call.direction, origin, number, own_code)
        origin_country = origin_country_of(call.direction, origin, region)
        shares = number.short_code or number.calling_code == origin_code
        return _new(Observation, (region, number, origin, origin_country, shares, origin_code))

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

    def observe(self, call: Call | Mapping[str, Any], tenant: Tenant) -> Observation:
        """What the engine observes of ``call`` before the rules (the caller's region, the
        numbers, where the call comes from): the same observation decisions are made on."""
        call = as_call(call)
        b = self.bind(tenant)
        user = b.users.get(call.user.lower()) if call.user else None
        return self._observe(call, b, user)

    def situation(
        self, call: Call | Mapping[str, Any], tenant: Tenant, state: State | None = None
    ) -> tuple[Facts, Route]:
        """The facts the rules see for ``call`` and the route they choose — computed afresh,
        not from the cache (for explanations, coverage and analysis tools)."""
        call = as_call(call)
        b = self.bind(tenant)
        state = state or b.initial
        user = b.users.get(call.user.lower()) if call.user else None
        region, number, _, origin_country, shares, _ = self._observe(call, b, user)
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
            return self.verdicts.denied(call, b, state, route, route.denial)
        if kind == "free" or kind == "included":
            return self.verdicts.free(call, b, state, route)
        settle = Settlement(self.verdicts, self.ratecard, call, b, state, route, number, origin)
        if kind == "pool":
            pools = user.pools if user is not None else b.shared_pools
            decision = settle.pay_pool(pools.get(route.pool or ""))
        else:
            decision = settle.pay_credits()
        if call.duration is None:
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


__all__ += ["EvaluationError", "Observation", "origin_country_of"]
