"""``ccpolicy rate``: decide a file of calls in order and write the PSTN usage report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from policy.commands.common import add_call_options
from policy.support.errors import EXIT_OK, UsageError

NAME = "rate"


def register(commands: Any) -> None:
    rate = commands.add_parser(
        NAME,
        help="rate a file of calls: the PSTN usage report",
        description="Decide every call of a file in order against an in-memory copy of the "
        "tenant (pools, credits, recharges) and write the result: .csv — the PSTN usage "
        "report plus ccpolicy's columns; .xlsx — the same as an Excel workbook; .jsonl — "
        "one decision per line. Calls: CSV (ccpolicy's call columns, or a PSTN usage report), JSON "
        "Lines, YAML or JSON. Exit 0 rated, 1 bad input (nothing written), 2 usage.",
    )
    add_call_options(
        rate,
        calls_metavar="FILE",
        calls_help="calls: .csv (call columns or a PSTN usage report), .jsonl, .yaml, .json",
    )
    rate.add_argument("--out", required=True, metavar="OUT", help="output: .csv, .xlsx or .jsonl")
    rate.add_argument(
        "--skip-bad",
        action="store_true",
        help="write malformed rows to the rejects file and go on (default: stop, exit 1)",
    )
    rate.add_argument(
        "--rejects",
        metavar="R.csv",
        help="with --skip-bad: where bad rows go (default: OUT's name + .rejects.csv)",
    )
    rate.add_argument("--format", choices=("text", "json"), default="text", help="summary format")
    rate.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )


def run(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.pipeline import load
    from policy.rating.batch import rate
    from policy.rating.progress import Progress, wants_progress
    from policy.rating.writers import FORMATS

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"--out must end in {', '.join(FORMATS)}, got '{out.name}'")
    if args.rejects and not args.skip_bad:
        raise UsageError("--rejects needs --skip-bad")
    rejects = None
    if args.skip_bad:
        rejects = Path(args.rejects) if args.rejects else out.with_name(out.name + ".rejects.csv")
        if rejects.resolve() == out.resolve():
            raise UsageError("--rejects must differ from --out")
    engine = load(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    engine.bind(tenant)
    progress = None
    if not args.no_progress and wants_progress(sys.stderr):
        progress = Progress(sys.stderr, "rating")
    try:
        summary = rate(
            engine,
            tenant,
            args.calls,
            out,
            rejects=rejects,
            tick=progress.tick if progress else None,
        )
    finally:
        if progress is not None:
            progress.done()
    if args.format == "json":
        record = summary.to_dict()
        record["out"] = str(out)
        record["rejects"] = str(rejects) if rejects is not None else None
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        where = f" → {out}"
        if rejects is not None and summary.rejected:
            where += f" (rejects: {rejects})"
        sys.stdout.write(summary.line() + where + "\n")
    return EXIT_OK
