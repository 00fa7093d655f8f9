"""``ccpolicy eval``: decide calls in order; one decision per call as JSON Lines or text."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from policy.commands.common import CALLS_HELP, add_call_options, bind_tenant, load_chosen
from policy.support.errors import EXIT_OK

if TYPE_CHECKING:
    from policy.data.tenant import Tenant
    from policy.engine.decision import Decision
    from policy.engine.evaluate import Engine
    from policy.rating.cdr import CheckedCalls
    from policy.tools.explain import Explanation

NAME = "eval"


def register(commands: Any) -> None:
    ev = commands.add_parser(
        NAME,
        help="decide calls",
        description="Decide each call in order against an in-memory copy of the tenant and "
        "print one decision per call (JSON Lines). Exit 0 decided (denials are decisions), "
        "1 bad input, 2 usage.",
    )
    add_call_options(ev, calls_metavar="CALLS", calls_help=CALLS_HELP)
    ev.add_argument(
        "--explain",
        action="store_true",
        help="text: a full account per call (as `ccpolicy explain`); json: add the derived facts",
    )
    ev.add_argument("--format", choices=("json", "text"), default="json")


def run(args: argparse.Namespace) -> int:
    return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.rating.cdr import open_calls

    engine = load_chosen(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    bind_tenant(engine, tenant, args.rules)
    with open_calls(args.calls) as source:
        # every call checked (schema, impossible numbers) before any decision is printed
        calls = source.checked(lambda call: engine.check_call(call, tenant))
        if args.explain:
            return _explained(args, engine, calls, tenant)
        return _decided(args, engine, calls, tenant)


def _decided(args: argparse.Namespace, engine: Engine, calls: CheckedCalls, tenant: Tenant) -> int:
    """Decide and print call by call: a streamed file is never held in memory; only the
    decisions of ids that occur more than once are kept (a repeat returns the first)."""
    out = sys.stdout
    state = engine.bind(tenant).initial.copy()
    kept: dict[str, Decision] = {}
    decided = permitted = 0
    text = args.format == "text"
    for call in calls:
        decision = kept.get(call.id) if kept else None
        if decision is None:
            decision = engine.decide(call, tenant, state)
            if calls.may_repeat(call.id):
                kept[call.id] = decision
        decided += 1
        permitted += decision.permitted
        if text:
            out.write(decision.to_text() + "\n")
        else:
            out.write(json.dumps(decision.to_dict(), ensure_ascii=False) + "\n")
    if text:
        out.write(f"{decided} calls: {permitted} permitted, {decided - permitted} denied\n")
    out.flush()
    return EXIT_OK


def _explained(
    args: argparse.Namespace, engine: Engine, calls: CheckedCalls, tenant: Tenant
) -> int:
    from policy.tools.explain import explain_run, render_text

    out = sys.stdout
    history = list(calls)
    explanations: list[Explanation] = list(explain_run(engine, history, tenant))
    decisions = [e.decision for e in explanations]
    if args.format == "text":
        out.write("\n\n".join(render_text(e) for e in explanations) + "\n\n")
        permitted = sum(d.permitted for d in decisions)
        out.write(
            f"{len(decisions)} calls: {permitted} permitted, {len(decisions) - permitted} denied\n"
        )
    else:
        for call, explanation in zip(history, explanations, strict=True):
            record = explanation.decision.to_dict()
            record["facts"] = _running_facts(engine.facts(call, tenant), explanation)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_OK


def _running_facts(facts: dict[str, Any], explanation: Explanation) -> dict[str, Any]:
    """``Engine.facts`` describes the tenant as loaded; in a calls file each call meets the
    state the calls before it left: take pool usage and balance from the explanation."""
    seen = explanation.facts
    user = facts.get("user")
    if user is not None:
        used = {p["name"]: p["used"] for p in seen["pools"]}
        for name, pool in user["pools"].items():
            pool["used"] = used.get(name, pool["used"])
    if facts.get("credits") is not None and seen["credits"] is not None:
        facts["credits"]["balance"] = seen["credits"]["balance"]
    return facts
