"""``ccpolicy eval``: decide calls in order; one decision per call as JSON Lines or text."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import EXIT_OK

NAME = "eval"


def register(commands: Any) -> None:
    ev = commands.add_parser(
        NAME,
        help="decide calls",
        description="Decide each call in order against an in-memory copy of the tenant and "
        "print one decision per call (JSON Lines). Exit 0 decided (denials are decisions), "
        "1 bad input, 2 usage.",
    )
    ev.add_argument("--tenant", required=True, metavar="T.yaml")
    ev.add_argument(
        "--calls",
        required=True,
        metavar="C.yaml",
        help="a YAML/JSON list of calls, or JSON Lines (.jsonl)",
    )
    ev.add_argument("--rules", metavar="DIR", help="policy directory (default: bundled rules)")
    ev.add_argument(
        "--rates",
        metavar="R.csv",
        help="rate card (default: rates.csv beside the rules, else the bundled card)",
    )
    ev.add_argument(
        "--explain",
        action="store_true",
        help="text: list the rules consulted; json: add the derived facts",
    )
    ev.add_argument("--format", choices=("json", "text"), default="json")


def run(args: argparse.Namespace) -> int:
    return _eval(args)


def _eval(args: argparse.Namespace) -> int:
    from ..call import calls_from_document
    from ..documents import load_document
    from ..load import load
    from ..tenant import Tenant

    engine = load(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    engine.bind(tenant)
    document = load_document(args.calls, schema="calls")
    calls = list(calls_from_document(document))
    for call in calls:  # impossible numbers are bad input: refuse before deciding anything
        engine.check_call(call, tenant)
    decisions = list(engine.run(calls, tenant))
    out = sys.stdout
    if args.format == "text":
        for decision in decisions:
            out.write(decision.to_text(explain=args.explain) + "\n")
        permitted = sum(d.permitted for d in decisions)
        out.write(
            f"{len(decisions)} calls: {permitted} permitted, {len(decisions) - permitted} denied\n"
        )
    else:
        for call, decision in zip(calls, decisions, strict=True):
            record = decision.to_dict()
            if args.explain:
                record["facts"] = engine.facts(call, tenant)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_OK
