"""``ccpolicy explain``: how one call was decided — facts, rules in order, the deciding
clause with ``file:line``, and the money."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from policy.commands.common import RULES_HELP, bind_tenant, load_chosen
from policy.support.errors import EXIT_OK, UsageError

NAME = "explain"


def register(commands: Any) -> None:
    ex = commands.add_parser(
        NAME,
        help="explain how a call is decided",
        description="Explain one call: the facts the rules see, every scenario considered in "
        "order (with the first condition that failed and the fact that failed it), the "
        "deciding clause with file:line, and the money (pool, rate row, cost arithmetic, "
        "balance, events). With --calls, the calls before --id are decided first, in order, "
        "as by eval. Exit 0 explained, 1 bad input, 2 usage.",
    )
    ex.add_argument("--tenant", required=True, metavar="T.yaml")
    source = ex.add_mutually_exclusive_group(required=True)
    source.add_argument("--call", metavar="CALL.yaml", help="a file holding one call")
    source.add_argument("--calls", metavar="C.yaml", help="a calls file (see --id)")
    ex.add_argument(
        "--id", metavar="ID", help="with --calls: the call to explain (default: every call)"
    )
    ex.add_argument("--rules", metavar="DIR", help=RULES_HELP)
    ex.add_argument(
        "--rates",
        metavar="R.csv",
        help="rate card (default: rates.csv beside the rules, else the bundled card)",
    )
    ex.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: one object (--call, --id), else one object per line",
    )


def run(args: argparse.Namespace) -> int:
    from policy.data.call import calls_from_document
    from policy.data.documents import load_document
    from policy.data.tenant import Tenant
    from policy.rating.cdr import open_calls
    from policy.tools.explain import explain_run, render_text

    engine = load_chosen(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    bind_tenant(engine, tenant, args.rules)
    if args.call:
        document = load_document(args.call, schema="call")
        calls = list(calls_from_document(document))
        filename = document.filename
    else:
        with open_calls(args.calls) as source:
            calls = list(source.checked())
            filename = source.name
    if args.id is not None:
        if args.call:
            raise UsageError("--id goes with --calls")
        ids = [c.id for c in calls]
        if args.id not in ids:
            raise UsageError(
                f"no call '{args.id}' in {filename}",
                hint=f"its calls are {', '.join(ids[:10])}{'…' if len(ids) > 10 else ''}",
            )
        calls = calls[: ids.index(args.id) + 1]
    for call in calls:  # impossible numbers are bad input: refuse before explaining anything
        engine.check_call(call, tenant)
    explanations = list(explain_run(engine, calls, tenant))
    if args.id is not None:
        explanations = explanations[-1:]
    out = sys.stdout
    if args.format == "json" and (args.call or args.id is not None):
        json.dump(explanations[-1].to_dict(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif args.format == "json":  # a whole calls file: JSON Lines, one account per call
        for explanation in explanations:
            out.write(json.dumps(explanation.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write("\n\n".join(render_text(e) for e in explanations) + "\n")
    return EXIT_OK
