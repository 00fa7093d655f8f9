"""Explain: a readable account of how one call was decided.

For each call: the facts the rules saw (destination, caller, user, pools, credits), every
scenario considered in order — for one that did not apply, the first condition part that
failed *and the fact that made it fail* ("destination is domestic — no: GB is
international for a US user") — the guards of the deciding scenario, the deciding clause
with ``file:line``, and the money (pool minutes, the rate-card row, the cost arithmetic,
balance before and after, events and who is told). The first line answers "which clause
decided (or denied) this call?".

:func:`explain_run` follows ``Engine.run``: calls are decided in order against one
in-memory copy of the tenant's state, so each account shows the state *that* call met.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from policy.data.call import Call
from policy.data.numbers import NON_GEOGRAPHIC, classify
from policy.data.tenant import Tenant
from policy.engine.binding import Binding, BoundUser, PoolRef, State
from policy.engine.compile import describe
from policy.engine.decision import Decision
from policy.engine.evaluate import ENGINE, Engine, Route
from policy.engine.facts import Facts
from policy.language import ast
from policy.language.source import display_name
from policy.pricing.tariffs import Tariff
from policy.tools.analysis import outcome_text

__all__ = ["Explanation", "explain_run", "render_text"]

MONEY_DENIALS = frozenset(
    {"pool_exhausted", "no_credits_license", "credits_not_set_up", "balance_exhausted", "no_rate"}
)


@dataclass(frozen=True, slots=True)
class Explanation:
    """The account of one decision; ``to_dict`` is its JSON form, :func:`render_text` its text."""

    call: str
    headline: str
    decided_by: dict[str, Any]
    facts: dict[str, Any]
    rules: tuple[dict[str, Any], ...]
    money: dict[str, Any]
    decision: Decision
    repeat: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "headline": self.headline,
            "decided_by": self.decided_by,
            "facts": self.facts,
            "rules": list(self.rules),
            "money": self.money,
            "repeat": self.repeat,
            "decision": self.decision.to_dict(),
        }


# ---- the facts, in words ---------------------------------------------------------------


class _Context:
    """Everything the account needs to say what a condition saw."""

    def __init__(self, engine: Engine, b: Binding, state: State, call: Call, facts: Facts) -> None:
        self.engine = engine
        self.b = b
        self.call = call
        self.facts = facts
        self.catalog = engine.policy.catalog
        self.user: BoundUser | None = b.users.get(call.user.lower()) if call.user else None
        self.location = self.user.location if self.user else b.tenant.country
        self.currency = b.tenant.currency
        if call.from_:
            self.origin_code: int | None = classify(call.from_, self.location).calling_code
        elif call.direction == "outbound":
            self.origin_code = self.user.calling_code if self.user else b.tenant_calling_code
        else:
            self.origin_code = None
        self.balance = state.balance
        self.failing = state.failing
        refs = self.user.pools if self.user else b.shared_pools
        self.pools: dict[str, tuple[PoolRef, int]] = {
            name: (ref, state.used(ref.key, call.month)) for name, ref in refs.items()
        }

    def left(self, name: str) -> int | None:
        entry = self.pools.get(name)
        return None if entry is None else max(entry[0].size - entry[1], 0)

    def regions_of(self, country: str | None) -> list[str]:
        return sorted(
            name
            for name, decl in self.catalog.regions.items()
            if country in {c.value for c in decl.countries}
        )

    def number_text(self) -> str:
        n = self.facts.number
        if n.emergency:
            return f"{self.call.to} is an emergency number in {n.country}"
        if n.short_code:
            return f"{self.call.to} is a short code (not an emergency number)"
        if n.country == NON_GEOGRAPHIC:
            return f"{self.call.to} is a non-geographic {n.number_type} number"
        return f"{self.call.to} is a {n.number_type} number in {n.country}"

    def who(self, subject: str) -> str:
        return self.user.upn if self.user else f"the call (no {subject})"

    def fact(self, cond: ast.Condition) -> str:
        f = self.facts
        if isinstance(cond, ast.IsDirection):
            return f"the call is {f.direction}"
        if isinstance(cond, ast.FromContext):
            return f"the call is from {f.context}"
        if isinstance(cond, ast.ToIs):
            if cond.number_class.value == "service_number":
                no = "" if f.service_number else "not "
                return f"{self.call.to} is {no}one of the tenant's service numbers"
            return self.number_text()
        if isinstance(cond, ast.DestinationIs):
            if f.dest_kind == "non_geographic":
                return f"{self.call.to} is non-geographic (international)"
            whom = f"a {self.location} user" if self.user else f"a tenant in {self.location}"
            return f"{f.number.country} is {f.dest_kind} for {whom}"
        if isinstance(cond, ast.DestinationIn | ast.CallerIn):
            countries = self.catalog.region_countries(cond.region)
            label = describe(cond).split(" in ", 1)[1]
            country: str | None
            if isinstance(cond, ast.DestinationIn):
                subject, country = "the destination", f.number.country
            else:
                subject, country = "the caller's country", f.origin_country
            no = "" if country in countries else "not "
            return f"{subject} {country or 'unknown'} is {no}in {label}"
        if isinstance(cond, ast.CallerSharesCode):
            if f.number.short_code:
                return "short codes are reachable by every caller"
            verb = "matches" if f.shares_code else "differs from"
            caller = f"+{self.origin_code}" if self.origin_code else "unknown"
            return (
                f"the caller's calling code {caller} {verb} the number's +{f.number.calling_code}"
            )
        if isinstance(cond, ast.HasLicence):
            if self.user is None:
                return f"{self.who(cond.subject)} holds no licences"
            no = "holds" if cond.licence.value in f.licences else "does not hold"
            return f"{self.user.upn} {no} {cond.licence.value}"
        if isinstance(cond, ast.HasCallingPlan | ast.PlanIs):
            if f.plan is None:
                return f"{self.who(cond.subject)} has no calling plan"
            return f"{self.who(cond.subject)}'s calling plan is {f.plan}"
        if isinstance(cond, ast.CreditsSetUp):
            return "credits are set up" if f.credits_set_up else "credits are not set up"
        if isinstance(cond, ast.BalancePositive):
            if self.balance is None:
                return "credits are not set up (no balance)"
            return f"the balance is {self.balance} {self.currency}"
        if isinstance(cond, ast.PoolHasMinutes):
            left = self.left(cond.pool.value)
            if left is None:
                return f"{self.who('user')} has no pool {cond.pool.value}"
            key = self.pools[cond.pool.value][0].key
            return f"pool {key} has {left} minutes left"
        return describe(cond)  # pragma: no cover - compound nodes are split by actual()

    def actual(self, cond: ast.Condition) -> str:
        """What the call's facts say about every atom of ``cond``, once each."""
        return "; ".join(dict.fromkeys(self.fact(atom) for atom in _leaves(cond)))


def _leaves(cond: ast.Condition) -> Iterator[ast.Condition]:
    if isinstance(cond, ast.AllOf | ast.AnyOf):
        for item in cond.items:
            yield from _leaves(item)
    elif isinstance(cond, ast.Not):
        yield from _leaves(cond.item)
    else:
        yield cond


# ---- rules considered --------------------------------------------------------------------


def _rules(ctx: _Context) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Scenarios in order up to the deciding one, and the clause that decided."""
    steps: list[dict[str, Any]] = []
    for scenario in ctx.engine.policy.scenarios:
        step: dict[str, Any] = {
            "rule": scenario.name,
            "file": scenario.span.file,
            "line": scenario.span.line,
            "matched": False,
        }
        steps.append(step)
        checks = []
        for part in scenario.parts:
            holds = part.test(ctx.facts)
            checks.append(
                {"condition": part.label, "holds": holds, "actual": ctx.actual(part.node)}
            )
            if not holds:
                step["failed"] = checks[-1]
                break
        if "failed" in step:
            continue
        step["matched"] = True
        step["conditions"] = checks
        guards = []
        for guard, clause in zip(scenario.guards, scenario.node.guards, strict=True):
            denies = guard.denies(ctx.facts)
            guards.append(
                {
                    "guard": guard.label,
                    "file": guard.span.file,
                    "line": guard.span.line,
                    "denies": denies,
                    "actual": ctx.actual(clause.condition),
                }
            )
            if denies:
                step["guards"] = guards
                return steps, {
                    "kind": "guard",
                    "scenario": scenario.name,
                    "clause": guard.label,
                    "file": guard.span.file,
                    "line": guard.span.line,
                    "scenario_line": scenario.span.line,
                    "denial": guard.denial,
                }
        step["guards"] = guards
        out = scenario.outcome
        return steps, {
            "kind": "scenario",
            "scenario": scenario.name,
            "clause": outcome_text(out),
            "file": scenario.span.file,
            "line": scenario.span.line,
            "clause_line": out.span.line,
            "denial": out.denial.value if isinstance(out, ast.PayDeny) else None,
        }
    return steps, {"kind": "none", "scenario": None, "clause": "no scenario matches"}


# ---- facts ---------------------------------------------------------------------------------


def _facts(ctx: _Context) -> dict[str, Any]:
    f, b, call = ctx.facts, ctx.b, ctx.call
    tenant = b.tenant
    out: dict[str, Any] = {
        "call": {
            "direction": call.direction,
            "context": call.context,
            "user": call.user,
            "from": call.from_,
            "to": call.to,
            "start": call.start.isoformat(),
            "duration": call.duration,
            "month": call.month,
        },
        "destination": {
            "country": f.number.country,
            "number_type": f.number.number_type,
            "calling_code": f.number.calling_code,
            "kind": f.dest_kind,
            "in": ctx.regions_of(f.number.country),
            "emergency": f.number.emergency,
            "short_code": f.number.short_code,
            "service_number": f.service_number,
        },
        "caller": {
            "usage_location": ctx.location,
            "origin_country": f.origin_country,
            "calling_code": ctx.origin_code,
            "in": ctx.regions_of(f.origin_country),
            "shares_calling_code": f.shares_code,
        },
        "user": None,
        "pools": [
            {
                "name": name,
                "key": ref.key,
                "size": ref.size,
                "used": used,
                "left": max(ref.size - used, 0),
            }
            for name, (ref, used) in ctx.pools.items()
        ],
        "credits": None,
    }
    if ctx.user is not None:
        out["user"] = {
            "upn": ctx.user.upn,
            "usage_location": ctx.user.location,
            "calling_plan": ctx.user.plan,
            "licences": sorted(ctx.user.licences),
            "credits_licence": ctx.user.credits_licensed,
        }
    credits = tenant.credits
    if credits is not None:
        out["credits"] = {
            "balance": str(ctx.balance),
            "currency": tenant.currency,
            "funding": credits.funding,
            "recharge_below": None
            if credits.recharge_below is None
            else str(credits.recharge_below),
            "recharge_amount": None
            if credits.recharge_amount is None
            else str(credits.recharge_amount),
            "payment": credits.payment,
            "failed_recharge_episode": ctx.failing,
        }
    return out


# ---- money -----------------------------------------------------------------------------------


def _tariff_dict(t: Tariff, source: str) -> dict[str, Any]:
    return {
        "source": source,
        "line": t.line,
        "prefix": t.prefix,
        "destination": t.destination,
        "number_type": t.number_type,
        "origin": t.origin,
        "connect_fee": str(t.connect_fee),
        "max_cost": None if t.max_cost is None else str(t.max_cost),
        "window": bool(t.has_window),
        "tiers": [
            {
                "from_second": tier.from_second,
                "rate": str(tier.rate),
                "rate_unit": tier.rate_unit,
                "increment": tier.increment,
                "line": tier.line,
            }
            for tier in sorted(t.tiers, key=lambda x: x.from_second)
        ],
    }


def _arithmetic(t: Tariff, start: int, end: int, connect: bool) -> tuple[list[str], Decimal]:
    """The cost of call seconds [start, end) under ``t``, step by step (exact)."""
    lines: list[str] = []
    total = Decimal(0)
    tiers = sorted(t.tiers, key=lambda x: x.from_second)
    for i, tier in enumerate(tiers):
        until = tiers[i + 1].from_second if i + 1 < len(tiers) else None
        lo = max(start, tier.from_second)
        hi = end if until is None else min(end, until)
        if hi <= lo:
            continue
        steps = -(-(hi - lo) // tier.increment)
        step_cost = tier.rate * tier.increment / tier.rate_unit
        part = step_cost * steps
        total += part
        lines.append(
            f"seconds {lo}–{hi}: {steps} × {tier.increment}s step at {tier.rate}/"
            f"{tier.rate_unit}s = {steps} × {_num(step_cost)} = {_num(part)}"
        )
    if connect and t.connect_fee:
        total += t.connect_fee
        lines.append(f"connect fee {_num(t.connect_fee)}")
    if t.max_cost is not None and total > t.max_cost:
        lines.append(f"capped at max_cost {_num(t.max_cost)}")
        total = t.max_cost
    return lines, total


def _num(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _money(ctx: _Context, decision: Decision, route: Route | None) -> dict[str, Any]:
    engine, call, f = ctx.engine, ctx.call, ctx.facts
    card = engine.ratecard
    out: dict[str, Any] = {
        "paid_by": decision.paid_by,
        "pool": None,
        "billable_seconds": decision.billable_seconds,
        "minutes": None
        if decision.billable_seconds is None
        else -(-decision.billable_seconds // 60),
        "max_duration": decision.max_duration if decision.authorization else None,
        "authorization": decision.authorization,
        "rate": None,
        "arithmetic": [],
        "exact_cost": None,
        "cost": None if decision.cost is None else str(decision.cost),
        "currency": decision.currency,
        "rounding": {"method": card.rounding.method, "decimals": card.rounding.decimals},
        "balance_before": None if ctx.balance is None else str(ctx.balance),
        "balance_after": None if decision.balance_after is None else str(decision.balance_after),
        "events": [e.to_dict() for e in decision.events],
        "notify": [n.to_dict() for n in decision.notify],
    }
    pool_start = 0
    route_pool = route.pool if route is not None else None
    if route_pool is not None:
        entry = ctx.pools.get(route_pool)
        if entry is not None:
            ref, used = entry
            left = max(ref.size - used, 0)
            pool_start = left * 60
            taken = 0
            if decision.pool == ref.key and decision.billable_seconds is not None:
                taken = min(-(-decision.billable_seconds // 60), left)
            out["pool"] = {
                "name": route_pool,
                "key": ref.key,
                "size": ref.size,
                "used_before": used,
                "left_before": left,
                "minutes_taken": taken,
                "used_after": used + taken,
            }
        else:
            out["pool"] = {"name": route_pool, "key": None, "size": 0, "left_before": 0}
    may_spill = route is not None and route.kind == "pool" and route.payer is not None
    credits_call = decision.paid_by == "credits" or (decision.permitted and may_spill)
    if f.number.short_code or not credits_call:
        return out
    tariff = card.tariff_at(f.number.digits, f.number.number_type, f.origin_country, call.start)
    if tariff is None:
        return out
    out["rate"] = _tariff_dict(tariff, display_name(Path(getattr(card, "source", "<rows>"))))
    if decision.authorization and decision.max_duration is not None and pool_start:
        tail = decision.max_duration - pool_start
        out["arithmetic"] = [
            f"may last {pool_start}s of pool minutes + {tail}s the balance covers at this rate"
        ]
    if decision.billable_seconds is None or decision.cost is None:
        return out
    spilled = decision.paid_by != "credits"
    if spilled and decision.cost == 0:
        return out
    start = pool_start if spilled else 0
    lines, exact = _arithmetic(tariff, start, decision.billable_seconds, connect=not spilled)
    rounded = card.rounding.apply(exact)
    lines.append(
        f"total {_num(exact)} → {rounded} {decision.currency} "
        f"(rounded {card.rounding.method} to {card.rounding.decimals} decimals)"
    )
    if rounded != decision.cost:
        lines.append(
            f"the call crosses a rate window: priced in pieces, {decision.cost} "
            f"{decision.currency} in all"
        )
    out["arithmetic"] = lines
    out["exact_cost"] = _num(exact)
    return out


def _money_why(ctx: _Context, route: Route, decision: Decision) -> str:
    """Why the money side refused a call the rules let through (pool, licence, balance, rate)."""
    reasons: list[str] = []
    if route.kind == "pool" and route.pool is not None:
        left = ctx.left(route.pool)
        entry = ctx.pools.get(route.pool)
        if entry is None:
            reasons.append(f"{ctx.who('user')} has no pool {route.pool}")
        else:
            reasons.append(f"pool {entry[0].key} has {left} of {entry[0].size} minutes left")
        if route.payer is None:
            reasons.append("the scenario does not spill over to credits")
    licence = ctx.engine.policy.credits_licence or "the credits licence"
    if not route.payer_licensed:
        reasons.append(f"{ctx.who(route.payer or 'user')} does not hold {licence}")
    elif ctx.b.tenant.credits is None:
        reasons.append("credits are not set up")
    elif decision.denial in ("balance_exhausted", "pool_exhausted") and (
        decision.balance_after is not None and decision.balance_after <= 0
    ):
        reasons.append(f"the balance is {decision.balance_after} {ctx.currency}")
    elif decision.denial == "no_rate" or not ctx.engine.ratecard.covers(
        ctx.facts.number.digits,
        ctx.facts.number.number_type,
        ctx.facts.origin_country,
        ctx.call.start,
    ):
        origin = ctx.facts.origin_country or "anywhere"
        reasons.append(f"no rate-card row prices {ctx.call.to} called from {origin}")
    return "; ".join(reasons) + f" ({decision.denial})"


# ---- putting it together ----------------------------------------------------------------------


def _headline(call: Call, decision: Decision, decided: dict[str, Any]) -> str:
    verdict = "PERMITTED" if decision.permitted else f"DENIED {decision.denial}"
    kind = decided["kind"]
    if kind == "engine":
        return f"{call.id}: {verdict} by the engine before any rule: {decision.reason}"
    if kind == "none":
        considered = decided["considered"]
        return f"{call.id}: {verdict}: no scenario matches the call ({considered} considered)"
    where = f"{decided['file']}:{decided['line']}"
    if kind == "guard":
        return (
            f"{call.id}: {verdict} by `{decided['clause']}` at {where} in scenario "
            f"{decided['scenario']}: {decision.reason}"
        )
    if kind == "money":
        return (
            f"{call.id}: {verdict} by the engine's credit check (reference rule R8) after scenario "
            f"{decided['scenario']} at {where} (`{decided['clause']}`): {decided['why']}"
        )
    return (
        f"{call.id}: {verdict} by scenario {decided['scenario']} at {where} "
        f"(`{decided['clause']}`): {decision.reason}"
    )


def _explain(engine: Engine, b: Binding, state: State, call: Call) -> Explanation:
    """Explain ``call`` against ``state`` and apply it there, like ``Engine.run``."""
    facts, route = engine.situation(call, b.tenant, state)
    ctx = _Context(engine, b, state, call, facts)
    decision = engine.decide(call, b.tenant, state)
    if decision.scenario == ENGINE:
        steps: list[dict[str, Any]] = []
        decided: dict[str, Any] = {"kind": "engine", "scenario": None, "clause": decision.denial}
    else:
        steps, decided = _rules(ctx)
        if decided["kind"] == "none":
            decided["considered"] = len(steps)
        elif (
            not decision.permitted
            and decision.denial in MONEY_DENIALS
            and (decided["kind"] == "scenario" and decided["denial"] != decision.denial)
        ):
            decided = {**decided, "kind": "money", "denial": decision.denial}
    if decided["kind"] == "money":
        decided["why"] = _money_why(ctx, route, decision)
    return Explanation(
        call=call.id,
        headline=_headline(call, decision, decided),
        decided_by=decided,
        facts=_facts(ctx),
        rules=tuple(steps),
        money=_money(ctx, decision, route if decision.scenario != ENGINE else None),
        decision=decision,
    )


def explain_run(
    engine: Engine, calls: Iterable[Call | Mapping[str, Any]], tenant: Tenant
) -> Iterator[Explanation]:
    """Decide ``calls`` in order (``Engine.run`` semantics) and explain each decision."""
    b = engine.bind(tenant)
    state = b.initial.copy()
    seen: dict[str, Explanation] = {}
    for raw in calls:
        call = raw if isinstance(raw, Call) else Call.from_dict(raw)
        state.begin(call.month)
        earlier = seen.get(call.id)
        if earlier is not None:
            yield replace(earlier, repeat=True)
            continue
        explanation = _explain(engine, b, state, call)
        seen[call.id] = explanation
        yield explanation


# ---- text ------------------------------------------------------------------------------------


def _mark(ok: bool) -> str:
    return "✔" if ok else "✗"


def _facts_text(facts: dict[str, Any]) -> list[str]:
    c, d, k = facts["call"], facts["destination"], facts["caller"]
    who = f" {c['user']}" if c["user"] else ""
    length = "authorization (no duration)" if c["duration"] is None else f"{c['duration']}s"
    zones = ", ".join(d["in"]) or "no zone"
    lines = [
        "Facts",
        f"  call         {c['direction']} from {c['context']}{who} to {c['to']} at {c['start']}"
        f" ({length}, month {c['month']})",
        f"  destination  {d['country']} · {d['number_type']} · +{d['calling_code']} · {d['kind']}"
        f" · in: {zones}" + (" · tenant service number" if d["service_number"] else ""),
        f"  caller       usage location {k['usage_location']} · origin "
        f"{k['origin_country'] or 'unknown'}"
        + (f" (+{k['calling_code']})" if k["calling_code"] else "")
        + (" · shares" if k["shares_calling_code"] else " · does not share")
        + " the number's calling code",
    ]
    user = facts["user"]
    if user is not None:
        lines.append(
            f"  user         {user['upn']} · calling plan: {user['calling_plan'] or 'none'} · "
            f"licences: {', '.join(user['licences']) or 'none'} · credits licence: "
            + ("yes" if user["credits_licence"] else "no")
        )
    for pool in facts["pools"]:
        lines.append(
            f"  pool         {pool['name']} = {pool['key']}: {pool['size']} min, "
            f"{pool['used']} used, {pool['left']} left"
        )
    credits = facts["credits"]
    if credits is None:
        lines.append("  credits      not set up")
    else:
        funding = credits["funding"]
        if funding == "auto_recharge":
            funding += (
                f" (below {credits['recharge_below']} buy {credits['recharge_amount']},"
                f" payment {credits['payment']})"
            )
        lines.append(
            f"  credits      balance {credits['balance']} {credits['currency']} · {funding}"
            + (" · in a failed-recharge episode" if credits["failed_recharge_episode"] else "")
        )
    return lines


def _rules_text(rules: tuple[dict[str, Any], ...]) -> list[str]:
    lines = ["Rules, in order"]
    if not rules:
        lines.append("  (none consulted)")
    for step in rules:
        where = f"{step['file']}:{step['line']}"
        if not step["matched"]:
            failed = step["failed"]
            lines.append(
                f"  ✗ {where} {step['rule']}: {failed['condition']} — no: {failed['actual']}"
            )
            continue
        lines.append(f"  ✔ {where} {step['rule']}")
        for check in step["conditions"]:
            lines.append(f"      ✔ {check['condition']} — {check['actual']}")
        for guard in step["guards"]:
            verdict = "denies" if guard["denies"] else "passes"
            lines.append(
                f"      {_mark(not guard['denies'])} {guard['file']}:{guard['line']} "
                f"{guard['guard']} — {verdict}: {guard['actual']}"
            )
    return lines


def _money_text(money: dict[str, Any]) -> list[str]:
    cur = money["currency"]
    lines = ["Money", f"  paid by {money['paid_by']}"]
    pool = money["pool"]
    if pool is not None and pool.get("key"):
        lines.append(
            f"  pool {pool['key']}: {pool['size']} min, {pool['used_before']} used, "
            f"{pool['left_before']} left → takes {pool['minutes_taken']} min "
            f"({pool['used_after']} used after)"
        )
    elif pool is not None:
        lines.append(f"  pool {pool['name']}: the caller has none")
    if money["billable_seconds"] is not None:
        lines.append(f"  billable {money['billable_seconds']}s ({money['minutes']} min rounded up)")
    if money["authorization"]:
        limit = money["max_duration"]
        lines.append("  authorization: may last " + ("unlimited" if limit is None else f"{limit}s"))
    rate = money["rate"]
    if rate is not None:
        tiers = "; ".join(
            f"from {t['from_second']}s {t['rate']}/{t['rate_unit']}s in {t['increment']}s steps"
            for t in rate["tiers"]
        )
        lines.append(
            f"  rate row {rate['source']}:{rate['line']}: prefix {rate['prefix'] or '(any)'} "
            f"{rate['destination']} [{rate['number_type'] or 'any type'}] — {tiers}; "
            f"connect fee {rate['connect_fee']}"
        )
    for step in money["arithmetic"]:
        lines.append(f"    {step}")
    if money["cost"] is not None:
        lines.append(f"  cost {money['cost']} {cur}")
    if money["balance_before"] is not None:
        lines.append(f"  balance {money['balance_before']} → {money['balance_after']} {cur}")
    notices = {n["event"]: n for n in money["notify"]}
    for event in money["events"]:
        notice = notices.get(event["type"], {})
        who = ", ".join(notice.get("recipients", [])) or "nobody"
        roles = ", ".join(notice.get("roles", [])) or "no routed role held"
        detail = " ".join(f"{k}={v}" for k, v in event.items() if k != "type")
        lines.append(f"  event {event['type']} {detail} → {who} ({roles})")
    if not money["events"]:
        lines.append("  events: none")
    return lines


def render_text(explanation: Explanation) -> str:
    """The account for people: headline, facts, rules in order, the money."""
    lines = [explanation.headline]
    if explanation.repeat:
        lines.append("  (a repeated call id: the first decision is returned, nothing changes)")
    decided = explanation.decided_by
    lines += _facts_text(explanation.facts)
    lines += _rules_text(explanation.rules)
    if decided["kind"] == "guard":
        lines.append(
            f"  → decided by `{decided['clause']}` at {decided['file']}:{decided['line']} "
            f"(scenario {decided['scenario']} at {decided['file']}:{decided['scenario_line']})"
        )
    elif decided["kind"] in ("scenario", "money"):
        lines.append(
            f"  → decided by {decided['scenario']} at {decided['file']}:{decided['line']}: "
            f"{decided['clause']}"
            + (f"; then the engine refused: {decided['why']}" if decided["kind"] == "money" else "")
        )
    lines += _money_text(explanation.money)
    return "\n".join(lines)
