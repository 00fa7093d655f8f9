"""Verdicts: every decision the engine returns is built here, field by field.

One place knows the order of :class:`~policy.engine.decision.Decision`'s fields; the
router (:mod:`policy.engine.evaluate`) and settlement (:mod:`policy.engine.settlement`)
name what they decide. Decisions are built with ``tuple.__new__`` from the fields in
order (no keyword matching at run time: this runs on every call).
"""

from __future__ import annotations

from decimal import Decimal

from policy.data.call import Call
from policy.engine.binding import Binding, State
from policy.engine.compile import CompiledPolicy
from policy.engine.decision import Decision, Event, Notice
from policy.engine.route import ENGINE, Route

__all__ = ["Verdicts"]

_new = tuple.__new__


class Verdicts:
    """Builds decisions for one compiled policy: ``zero`` is "0" in the rate card's
    places; denial sentences come from the policy (memoised per code)."""

    __slots__ = ("_sentences", "policy", "zero")

    def __init__(self, policy: CompiledPolicy, zero: Decimal) -> None:
        self.policy = policy
        self.zero = zero
        self._sentences: dict[str, str] = {}  # denial code → its sentence

    def free(self, call: Call, b: Binding, state: State, route: Route) -> Decision:
        """A call the rules make free or include in a subscription: no money moves."""
        duration = call.duration
        return self._build(
            call,
            b,
            route,
            permitted=True,
            paid_by=route.paid_by,
            reason=route.reason,
            pool=None,
            denial=None,
            billable_seconds=duration,
            cost=None if duration is None else self.zero,
            max_duration=None,
            balance_after=state.balance,
            events=(),
        )

    def permitted(
        self,
        call: Call,
        b: Binding,
        state: State,
        route: Route,
        *,
        paid_by: str,
        cost: Decimal,
        seconds: int | None,
        max_duration: int | None,
        pool: str | None,
        balance: Decimal | None,
        events: tuple[Event, ...],
        detail: str,
    ) -> Decision:
        """A permitted call that is paid (from a pool or credits); ``detail`` ends the
        reason after the scenario's sentence."""
        return self._build(
            call,
            b,
            route,
            permitted=True,
            paid_by=paid_by,
            reason=f"{route.sentence}: {detail}",
            pool=pool,
            denial=None,
            billable_seconds=seconds,
            cost=None if seconds is None else cost,
            max_duration=max_duration,
            balance_after=balance if balance is not None else state.balance,
            events=events,
        )

    def denied(
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
        """A denial with its code; the reason is the policy's sentence for it unless given."""
        authorization = call.duration is None
        return self._build(
            call,
            b,
            route,
            permitted=False,
            paid_by="none",
            reason=reason or self._sentences.get(code) or self.sentence(code),
            pool=None,
            denial=code,
            billable_seconds=None if authorization else 0,
            cost=None if authorization else self.zero,
            max_duration=0,
            balance_after=balance if balance is not None else state.balance,
            events=events,
        )

    def engine_denial(
        self, call: Call, b: Binding, state: State, code: str, reason: str
    ) -> Decision:
        """A denial by the engine itself, before any rule (an unknown user)."""
        route = Route("deny", ENGINE, reason, (), denial=code)
        return self.denied(call, b, state, route, code, reason=reason)

    def sentence(self, code: str) -> str:
        """The policy's sentence for a denial code."""
        sentence = self._sentences[code] = self.policy.denial_sentence(code)
        return sentence

    @staticmethod
    def notices(b: Binding, events: tuple[Event, ...]) -> tuple[Notice, ...]:
        """Who must be told of each event: the routed roles and their holders' e-mail."""
        out = []
        for event in events:
            roles, emails = b.recipients.get(event.type, ((), ()))
            out.append(Notice(event.type, roles, emails))
        return tuple(out)

    def _build(
        self,
        call: Call,
        b: Binding,
        route: Route,
        *,
        permitted: bool,
        paid_by: str,
        reason: str,
        pool: str | None,
        denial: str | None,
        billable_seconds: int | None,
        cost: Decimal | None,
        max_duration: int | None,
        balance_after: Decimal | None,
        events: tuple[Event, ...],
    ) -> Decision:
        """The one constructor: every field by name, in Decision's order."""
        return _new(
            Decision,
            (
                call.id,
                permitted,
                route.scenario,
                paid_by,
                reason,
                b.tenant.currency,
                pool,
                denial,
                billable_seconds,
                cost,
                max_duration,
                call.duration is None,
                balance_after,
                events,
                self.notices(b, events) if events else (),
                route.trace,
            ),
        )
