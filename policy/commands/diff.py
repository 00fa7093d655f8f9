"""``ccpolicy diff``: compare two policies (or two rate cards) on a call history."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from policy.commands.common import CALLS_HELP, is_bundled
from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK

NAME = "diff"


def register(commands: Any) -> None:
    df = commands.add_parser(
        NAME,
        help="compare two policies or rate cards on a call history",
        description="Decide the same calls (in order, as eval does) with the OLD and the NEW "
        "policy and report every call whose permission, payer, pool, denial, cost or "
        "authorized duration changes, with totals (calls changed, cost old/new/delta, by "
        "scenario). OLD and NEW may be the same policy with --old-rates/--new-rates. "
        "Exit 0 compared, 1 bad input (or a change with --fail-on-change), 2 usage.",
    )
    df.add_argument(
        "old",
        metavar="OLD",
        help="policy directory before the change ('bundled': the bundled rules)",
    )
    df.add_argument(
        "new",
        metavar="NEW",
        help="policy directory after the change ('bundled': the bundled rules)",
    )
    df.add_argument("--tenant", required=True, metavar="T.yaml")
    df.add_argument("--calls", required=True, metavar="HISTORY", help=CALLS_HELP)
    df.add_argument(
        "--old-rates", metavar="R1.csv", help="OLD's rate card (default: beside OLD, else bundled)"
    )
    df.add_argument(
        "--new-rates", metavar="R2.csv", help="NEW's rate card (default: beside NEW, else bundled)"
    )
    df.add_argument("--format", choices=("text", "json"), default="text")
    df.add_argument(
        "--fail-on-change", action="store_true", help="exit 1 when any call is decided differently"
    )


def run(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.pipeline import load
    from policy.rating.cdr import open_calls
    from policy.tools.diff import diff_runs, render_text

    old = load(None if is_bundled(args.old) else args.old, rates=args.old_rates)
    new = load(None if is_bundled(args.new) else args.new, rates=args.new_rates)
    tenant = Tenant.from_file(args.tenant)
    old.bind(tenant)
    new.bind(tenant)
    with open_calls(args.calls) as source:
        # impossible numbers are bad input: refuse before comparing anything
        calls = source.checked(lambda call: old.check_call(call, tenant))
        report = diff_runs(old, new, calls, tenant)
    if args.format == "json":
        data = {"old": str(args.old), "new": str(args.new), **report.to_dict()}
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(report))
    if args.fail_on_change and report.changes:
        return EXIT_BAD_INPUT
    return EXIT_OK
