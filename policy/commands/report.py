"""``ccpolicy report``: reports over rated calls — ``pools``, ``usage``, ``funding``."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from policy.commands.common import RULES_HELP, bind_tenant, load_chosen
from policy.support.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from policy.rating.funding import Advice

NAME = "report"
_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


def register(commands: Any) -> None:
    report = commands.add_parser(
        NAME,
        help="reports over rated calls: pools, usage, funding",
        description="Reports over the output of `ccpolicy rate` (the usage-report CSV, or "
        "decisions as JSON Lines). Exit 0 done, 1 bad input, 2 usage, 3 a missing optional "
        "extra.",
    )
    kinds = report.add_subparsers(dest="report", metavar="REPORT", required=True)

    pools = kinds.add_parser(
        "pools",
        help="the minute-pools report for a month",
        description="The minute pools as the admin centre's report shows them: per "
        "country and pool, total minutes, minutes used by the rated calls, minutes "
        "available. Needs no rate card. Exit 0 done, 1 bad input, 2 usage.",
    )
    pools.add_argument("--tenant", required=True, metavar="T.yaml")
    pools.add_argument("--rated", required=True, metavar="RATED", help=".csv or .jsonl")
    pools.add_argument("--month", metavar="YYYY-MM", help="default: the first call's month")
    pools.add_argument("--rules", metavar="DIR", help=RULES_HELP)
    pools.add_argument("--format", choices=("text", "json"), default="text")

    usage = kinds.add_parser(
        "usage",
        help="totals by user, destination, scenario and payer; credits per day",
        description="Totals of the rated calls by user, destination country, scenario and "
        "payer, and the credits spent per day (the call's local date: the day printed in "
        "its start time). Exit 0 done, 1 bad input, 2 usage.",
    )
    usage.add_argument("--rated", required=True, metavar="RATED", help=".csv or .jsonl")
    usage.add_argument("--month", metavar="YYYY-MM", help="only calls of this month")
    usage.add_argument("--format", choices=("text", "json"), default="text")

    funding = kinds.add_parser(
        "funding",
        help="recommend an auto-recharge trigger and amount from history",
        description="Replay a call history with each candidate auto-recharge setting "
        "(trigger:amount) and recommend the one that refuses no call with the least money "
        "tied up; --chart draws its balance. Exit 0 done, 1 bad input, 2 usage, 3 --chart "
        "without the 'charts' extra (the table is printed first).",
    )
    funding.add_argument("--tenant", required=True, metavar="T.yaml")
    funding.add_argument(
        "--history",
        required=True,
        metavar="FILE",
        help="1–2 months of calls: a rated usage-report CSV or any calls file",
    )
    funding.add_argument(
        "--candidates",
        metavar="T:A,…",
        help="trigger:amount pairs, e.g. 10:50,25:100 (default: a grid; amounts ≥ 50)",
    )
    funding.add_argument("--chart", metavar="OUT.png", help="write a PNG chart")
    funding.add_argument("--rules", metavar="DIR", help=RULES_HELP)
    funding.add_argument("--rates", metavar="R.csv")
    funding.add_argument("--format", choices=("text", "json"), default="text")
    funding.add_argument(
        "--no-progress", action="store_true", help="no progress bar even on a terminal"
    )


def run(args: argparse.Namespace) -> int:
    month = getattr(args, "month", None)
    if month is not None and not _MONTH.fullmatch(month):
        raise UsageError(f"--month must be YYYY-MM, got '{month}'")
    if args.report == "pools":
        return _pools(args)
    if args.report == "usage":
        return _usage(args)
    return _funding(args)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: int = 1) -> str:
    """A plain text table; columns from index ``right`` on are right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.rjust(widths[i]) if i >= right else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _pools(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.pricing.ratecard import RateCard
    from policy.rating.rated import read_rated
    from policy.rating.reports import pools_report

    # minutes need no prices: no rate card, so none in another currency can refuse
    engine = load_chosen(args.rules).with_rates(RateCard([]))
    tenant = Tenant.from_file(args.tenant)
    bind_tenant(engine, tenant, args.rules)
    month, lines = pools_report(engine, tenant, read_rated(args.rated), args.month)
    if args.format == "json":
        record = {"month": month, "pools": [p.to_dict() for p in lines]}
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
        return EXIT_OK
    sys.stdout.write(f"Minute pools — {month or 'all calls'}\n")
    rows = [(p.country, p.description, p.total, p.used, p.available) for p in lines]
    headers = (
        "Country or region",
        "Capability description",
        "Total minutes",
        "Minutes used",
        "Minutes available",
    )
    sys.stdout.write(_table(headers, rows, right=2) + "\n")
    return EXIT_OK


def _usage(args: argparse.Namespace) -> int:
    from policy.rating.rated import read_rated
    from policy.rating.reports import usage_report

    report = usage_report(read_rated(args.rated), args.month)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
        return EXIT_OK
    out = sys.stdout
    total = report.total
    out.write(
        f"{total.calls:,} calls ({total.refused:,} refused), "
        f"{total.seconds / 60:,.1f} minutes, charge {total.charge} {report.currency}\n"
    )
    titles = {
        "user": "By user",
        "country": "By destination country",
        "scenario": "By scenario",
        "payer": "By payer",
    }
    for name, table in report.by.items():
        out.write(f"\n{titles[name]}\n")
        rows = [
            (key, t.calls, t.refused, f"{t.seconds / 60:,.1f}", t.charge)
            for key, t in sorted(table.items(), key=lambda kv: (-kv[1].charge, kv[0]))
        ]
        out.write(_table((name, "calls", "refused", "minutes", "charge"), rows) + "\n")
    out.write("\nCredits spent per day\n")
    rows_day = [(day, amount) for day, amount in sorted(report.per_day.items())]
    out.write(_table(("day", f"charge ({report.currency})"), rows_day) + "\n")
    return EXIT_OK


def _funding(args: argparse.Namespace) -> int:
    from policy.data.tenant import Tenant
    from policy.rating.funding import advise, parse_candidates, write_chart

    candidates = None
    if args.candidates:
        try:
            candidates = parse_candidates(args.candidates)
        except ValueError as exc:
            raise UsageError(f"--candidates: {exc}") from None
    engine = load_chosen(args.rules, rates=args.rates)
    tenant = Tenant.from_file(args.tenant)
    bind_tenant(engine, tenant, args.rules)
    from policy.rating.cdr import open_calls
    from policy.rating.progress import Progress, wants_progress

    progress = None
    if not args.no_progress and wants_progress(sys.stderr):
        progress = Progress(sys.stderr, "replaying")
    try:
        with open_calls(args.history) as history:
            advice = advise(
                engine, tenant, history, candidates, tick=progress.tick if progress else None
            )
    finally:
        if progress is not None:
            progress.done()
    # the table first: a chart that cannot be drawn (no matplotlib) must not lose it
    if args.format == "json":
        record = advice.to_dict()
        record["chart"] = args.chart
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        sys.stdout.write(_funding_text(advice))
    sys.stdout.flush()
    if args.chart:
        write_chart(advice, args.chart)
        if args.format != "json":
            sys.stdout.write(f"chart: {args.chart}\n")
    return EXIT_OK


def _funding_text(advice: Advice) -> str:
    cur = advice.currency
    rows = []
    for o in advice.outcomes:
        mark = "*" if o is advice.best else ""
        rows.append(
            (
                mark,
                o.candidate.trigger,
                o.candidate.amount,
                o.recharges,
                o.lowest,
                len(o.refused),
                o.average,
            )
        )
    headers = (
        "",
        f"trigger ({cur})",
        f"amount ({cur})",
        "recharges",
        "lowest balance",
        "refused calls",
        "avg balance (tied up)",
    )
    return _table(headers, rows) + "\n\n" + advice.reason + "\n"
