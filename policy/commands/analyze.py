"""``ccpolicy analyze``: the decision table of a policy — every call situation it can tell
apart, grouped by the scenario (and outcome) that decides it — with its gaps, shadowed and
unreachable scenarios, and overlaps between scenarios."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from policy.commands.common import paint, paths_to_verify, print_findings
from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK

if TYPE_CHECKING:
    from policy.engine.compile import CompiledPolicy, CompiledScenario
    from policy.tools.analysis import Cover, DecisionTable

NAME = "analyze"


def register(commands: Any) -> None:
    an = commands.add_parser(
        NAME,
        help="print a policy's decision table; find gaps and shadowed rules",
        description="Enumerate every call situation the policy can tell apart (direction × "
        "context × destination class × caller location × licences × plan × credits/pool "
        "state), print the decision table, and report gaps (no scenario decides), scenarios "
        "shadowed by earlier ones, scenarios no situation reaches, and overlaps. Exit 0 "
        "(also with findings unless --strict), 1 policy errors or --strict findings, 2 usage.",
    )
    an.add_argument(
        "dir",
        nargs="?",
        metavar="DIR",
        help="policy directory; 'bundled' for the bundled rules (default: the current "
        "directory when it holds .ccp files)",
    )
    an.add_argument("--format", choices=("text", "json"), default="text")
    an.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on any gap, shadowed or unreachable scenario (for CI)",
    )


def run(args: argparse.Namespace) -> int:
    from policy.pipeline import policy_findings
    from policy.support.resources import rules_dir
    from policy.tools.analysis import decision_table

    path = paths_to_verify([args.dir] if args.dir else [], "analyze", str(rules_dir()))[0]
    compiled, findings = policy_findings(path)
    if compiled is None:
        print_findings([f for f in findings if f.is_error], sys.stderr)
        return EXIT_BAD_INPUT
    table = decision_table(compiled)
    shown = (
        "(bundled rules)" if path == str(rules_dir()) else str(args.dir or "(current directory)")
    )
    report = _report(compiled, table, shown)
    if args.format == "json":
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_text(report))
    summary = report["summary"]
    if args.strict and not summary["ok"]:
        return EXIT_BAD_INPUT
    return EXIT_OK


# ---- the report as data -------------------------------------------------------------------


def _ref(s: CompiledScenario) -> dict[str, Any]:
    return {"scenario": s.name, "file": s.span.file, "line": s.span.line}


def _when(cover: Cover, table: DecisionTable) -> list[str]:
    return cover.describe(table.dims, table.full)


def _report(policy: CompiledPolicy, table: DecisionTable, name: str) -> dict[str, Any]:
    from policy.tools.analysis import Cover

    rows = [
        {
            **_ref(row.scenario),
            "outcome": row.outcome,
            "situations": row.cover.count,
            "when": _when(row.cover, table),
            "example": row.cover.example.describe() if row.cover.example else None,
        }
        for row in table.rows
        if row.scenario is not None
    ]
    gaps = {
        "situations": table.gaps.count,
        "groups": [
            {
                "direction": direction,
                "context": context,
                "situations": cover.count,
                "when": [
                    w for w in _when(cover, table) if not w.startswith(("direction=", "context="))
                ],
                "example": cover.example.describe() if cover.example else None,
            }
            for (direction, context), cover in table.gap_groups.items()
        ],
        "examples": [g.describe() for g in table.analysis.gaps[:3]],
    }
    shadowed = []
    for scenario in table.shadowed(policy):
        pairs = [o for o in table.overlaps if o.later.index == scenario.index]
        merged = Cover(len(table.dims))
        for pair in pairs:
            merged.merge(pair.cover)
        shadowed.append(
            {
                **_ref(scenario),
                "situations": merged.count,
                "when": _when(merged, table),
                "by": [{**_ref(p.earlier), "situations": p.cover.count} for p in pairs],
                "example": merged.example.describe() if merged.example else None,
            }
        )
    dead = [_ref(s) for s in table.dead(policy)]
    shadowed_names = {s["scenario"] for s in shadowed}
    overlaps = [
        {
            **_ref(o.later),
            "earlier": _ref(o.earlier),
            "situations": o.cover.count,
            "when": _when(o.cover, table),
            "example": o.cover.example.describe() if o.cover.example else None,
        }
        for o in table.overlaps
        if o.later.name not in shadowed_names
    ]
    summary = {
        "situations": table.analysis.situations,
        "scenarios": len(policy.scenarios),
        "rows": len(rows),
        "gaps": gaps["situations"],
        "shadowed": len(shadowed),
        "unreachable": len(dead),
        "overlaps": len(overlaps),
        "ok": not (gaps["situations"] or shadowed or dead),
    }
    return {
        "policy": name,
        "dimensions": [d.name for d in table.dims],
        "rows": rows,
        "gaps": gaps,
        "shadowed": shadowed,
        "unreachable": dead,
        "overlaps": overlaps,
        "summary": summary,
    }


# ---- text -------------------------------------------------------------------------------------


def _text(report: dict[str, Any]) -> str:
    out = sys.stdout
    summary = report["summary"]
    lines = [
        f"Decision table of {report['policy']}: {summary['situations']:,} call situations, "
        f"{summary['scenarios']} scenarios, {summary['rows']} rows",
        "",
    ]
    for number, row in enumerate(report["rows"], start=1):
        lines.append(
            f"{number:>3}  {row['scenario']} ({row['file']}:{row['line']}) → {row['outcome']}"
            f"  [{row['situations']:,} situations]"
        )
        lines.append(f"       when {' · '.join(row['when']) or 'any call'}")
    lines.append("")
    gaps = report["gaps"]
    if gaps["situations"]:
        lines.append(
            paint("Gaps", "31;1", out)
            + f": {gaps['situations']:,} situations no scenario decides (refused as no_scenario)"
        )
        for group in gaps["groups"]:
            when = " · ".join(group["when"])
            lines.append(
                f"  {group['direction']} from {group['context']}"
                + (f", {when}" if when else "")
                + f"  [{group['situations']:,} situations]"
            )
            lines.append(f"       e.g. {group['example']}")
    else:
        lines.append("Gaps: none — every situation is decided by some scenario")
    if report["shadowed"]:
        lines.append(paint("Shadowed scenarios", "31;1", out) + " (never decide a call):")
        for s in report["shadowed"]:
            by = ", ".join(
                f"{b['scenario']} ({b['file']}:{b['line']}, {b['situations']:,})" for b in s["by"]
            )
            lines.append(
                f"  {s['scenario']} ({s['file']}:{s['line']}): all {s['situations']:,} "
                f"situations it matches are decided earlier by {by}"
            )
            lines.append(f"       when {' · '.join(s['when']) or 'any call'}")
    else:
        lines.append("Shadowed scenarios: none")
    if report["unreachable"]:
        lines.append(paint("Unreachable scenarios", "31;1", out) + " (match no situation at all):")
        for s in report["unreachable"]:
            lines.append(
                f"  {s['scenario']} ({s['file']}:{s['line']}): its condition contradicts itself"
            )
    else:
        lines.append("Unreachable scenarios: none")
    by_later: dict[str, list[dict[str, Any]]] = {}
    for o in report["overlaps"]:
        by_later.setdefault(f"{o['scenario']} ({o['file']}:{o['line']})", []).append(o)
    if by_later:
        lines.append("Overlaps (first match wins; for information):")
        for later, pairs in by_later.items():
            total = sum(p["situations"] for p in pairs)
            earlier = ", ".join(f"{p['earlier']['scenario']} {p['situations']:,}" for p in pairs)
            lines.append(f"  {later}: {total:,} situations decided earlier by {earlier}")
    verdict = "ok" if summary["ok"] else "problems found"
    lines.append(
        f"{summary['gaps']:,} gap situations, {summary['shadowed']} shadowed, "
        f"{summary['unreachable']} unreachable, {summary['overlaps']} overlaps: {verdict}"
    )
    return "\n".join(lines) + "\n"
