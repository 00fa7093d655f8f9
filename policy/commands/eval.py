"""``ccpolicy eval``: decide calls in order; one decision per call as JSON Lines or text."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from policy.commands.common import add_call_options
from policy.support.errors import EXIT_OK

if TYPE_CHECKING:
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
    add_call_options(
        ev, calls_metavar="C.yaml", calls_help="a YAML/JSON list of calls, or JSON Lines (.jsonl)"
    )
    ev.add_argument(
        "--explain",
        action="store_true",
        help="text: a full account per call (as `ccpolicy explain`); json: add the derived facts",
    )
    ev.add_argument("--format", choices=("json", "text"), default="json")


def run(args: argparse.Namespace) -> int:
    return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    from policy.data.call import calls_from_document
    from policy.data.documents import load_document
    from policy.data.tenant import Tenant
    from policy.pipeline import load

    engine = load(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    engine.bind(tenant)
    document = load_document(args.calls, schema="calls")
    calls = list(calls_from_document(document))
    for call in calls:  # impossible numbers are bad input: refuse before deciding anything
        engine.check_call(call, tenant)
    out = sys.stdout
    explanations: list[Explanation] = []
    if args.explain:
        from policy.tools.explain import explain_run, render_text

        explanations = list(explain_run(engine, calls, tenant))
        decisions = [e.decision for e in explanations]
        if args.format == "text":
            out.write("\n\n".join(render_text(e) for e in explanations) + "\n\n")
    else:
        decisions = list(engine.run(calls, tenant))
    if args.format == "text":
        if not args.explain:
            for decision in decisions:
                out.write(decision.to_text() + "\n")
        permitted = sum(d.permitted for d in decisions)
        out.write(
            f"{len(decisions)} calls: {permitted} permitted, {len(decisions) - permitted} denied\n"
        )
    else:
        for index, (call, decision) in enumerate(zip(calls, decisions, strict=True)):
            record = decision.to_dict()
            if args.explain:
                record["facts"] = _running_facts(engine.facts(call, tenant), explanations[index])
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
