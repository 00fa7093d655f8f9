"""The ``ccpolicy`` command: ``check`` and ``eval`` (SPEC "Command line").

Results go to stdout, errors to stderr, never a traceback for bad input.
Exit codes: 0 clean / decided, 1 findings or bad input, 2 usage error.
Heavy modules are imported inside the commands so ``ccpolicy --help`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from .errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE, Finding, PolicyError

if TYPE_CHECKING:
    from .compile import CompiledPolicy

__all__ = ["main"]

DATA_SUFFIXES = {".yaml", ".yml", ".json", ".jsonl", ".csv"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, code: str, stream: TextIO) -> str:
    return f"\033[{code}m{text}\033[0m" if _color(stream) else text


def _print_findings(findings: Sequence[Finding], stream: TextIO) -> None:
    for finding in findings:
        text = finding.render()
        if finding.is_error:
            text = text.replace(": error: ", ": " + _paint("error", "31;1", stream) + ": ", 1)
        else:
            text = text.replace(": warning: ", ": " + _paint("warning", "33;1", stream) + ": ", 1)
        stream.write(text + "\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ccpolicy",
        description="Policy engine for prepaid telephone Communications Credits: is this call "
        "permitted, what does it cost, who pays, and who must be told?",
    )
    parser.add_argument("--version", action="version", version="ccpolicy 0.1.0")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="check policies and data files",
        description="Parse and check policy directories/.ccp files and validate data files "
        "(tenant, calls, rate cards) against their schemas. Prints every finding. "
        "Exit 0 clean (warnings allowed), 1 errors (or warnings with --strict), 2 usage.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="policy dirs, .ccp files, tenant/calls YAML/JSON, rate-card CSV "
        "(default: the bundled rules)",
    )
    check.add_argument(
        "--rules",
        metavar="DIR",
        help="policy to check data files against (default: the policy among "
        "PATHs, else the bundled rules)",
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")

    ev = commands.add_parser(
        "eval",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "check":
            return _check(args)
        if args.command == "eval":
            return _eval(args)
    except PolicyError as exc:
        _print_findings(exc.findings, sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


# ---- check -------------------------------------------------------------------------------


def _classify_paths(paths: Sequence[str]) -> tuple[list[Path], list[Path]]:
    policies: list[Path] = []
    data: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if any(path.glob("*.ccp")):
                policies.append(path)
            data.extend(
                sorted(p for p in path.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file())
            )
        elif path.suffix == ".ccp":
            policies.append(path)
        else:
            data.append(path)
    return policies, data


def _check(args: argparse.Namespace) -> int:
    from .analysis import analysis_findings
    from .load import policy_findings
    from .resources import rules_dir

    policies, data = _classify_paths(args.paths)
    if not args.paths:
        policies = [rules_dir()]
    findings: list[Finding] = []
    checked: CompiledPolicy | None = None
    for path in policies:
        compiled, found = policy_findings(path)
        findings.extend(found)
        if compiled is not None:
            findings.extend(analysis_findings(compiled))
            checked = checked or compiled
    rules_for_data: CompiledPolicy | None = checked
    if args.rules:
        compiled, found = policy_findings(args.rules)
        if compiled is None:
            findings.extend(found)
        rules_for_data = compiled
    elif rules_for_data is None and data and not policies:
        rules_for_data, _ = policy_findings(rules_dir())
    for path in data:
        findings.extend(_check_data(path, rules_for_data))
    errors = sum(1 for f in findings if f.is_error)
    warnings = len(findings) - errors
    files = len(policies) + len(data)
    if args.format == "json":
        json.dump(
            {
                "findings": [f.to_dict() for f in findings],
                "summary": {"errors": errors, "warnings": warnings, "paths": files},
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    else:
        _print_findings(findings, sys.stdout)
        summary = f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"
        sys.stdout.write(f"checked {files} path{'s' * (files != 1)}: {summary}\n")
    if errors or (args.strict and warnings):
        return EXIT_BAD_INPUT
    return EXIT_OK


def _data_kind(path: Path, data: Any) -> str | None:
    if path.suffix == ".csv":
        return "ratecard"
    if path.suffix == ".jsonl" or isinstance(data, list):
        return "calls"
    if isinstance(data, dict):
        if "tenant" in data:
            return "tenant"
        if "rounding" in data or ("currency" in data and len(data) <= 2):
            return "sidecar"
        if {"id", "direction", "to"} <= set(data):
            return "call"
    return None


def _check_data(path: Path, policy: CompiledPolicy | None) -> list[Finding]:
    from .documents import load_document
    from .errors import Location
    from .ratecard import RateCard
    from .source import display_name
    from .validation import validate

    name = display_name(path)
    try:
        if path.suffix == ".csv":
            RateCard.from_file(path)
            return []
        document = load_document(path)
        kind = _data_kind(path, document.data)
        if kind is None:
            return [
                Finding(
                    "error",
                    "cannot tell what kind of file this is (expected a tenant, "
                    "a list of calls or a rate card)",
                    location=Location(name, 1),
                    code="input",
                )
            ]
        if kind == "sidecar":
            csv_path = path.with_suffix(".csv")
            if csv_path.is_file():
                RateCard.from_file(csv_path)
            return []
        schema = "calls" if kind in ("calls", "call") else kind
        found = validate(
            document.data,
            schema if kind != "call" else "call",
            filename=document.filename,
            line_of=document.line_of,
        )
        if found:
            return found
        if kind == "tenant" and policy is not None:
            from .binding import tenant_findings
            from .tenant import Tenant

            tenant = Tenant.from_file(path)
            return tenant_findings(policy, tenant)
        if kind in ("calls", "call"):
            return _check_call_numbers(document)
        return []
    except PolicyError as exc:
        return list(exc.findings)


def _check_call_numbers(document: Any) -> list[Finding]:
    from .errors import Location
    from .numbers import BadNumber, classify

    data = document.data if isinstance(document.data, list) else [document.data]
    findings = []
    for index, call in enumerate(data):
        for field in ("to", "from"):
            text = call.get(field)
            if not text:
                continue
            try:
                classify(text, "US")
            except BadNumber as exc:
                findings.append(
                    Finding(
                        "error",
                        str(exc),
                        location=Location(document.filename, document.line_of((index, field))),
                        path=f"[{index}].{field}",
                        code="number",
                    )
                )
    return findings


# ---- eval ----------------------------------------------------------------------------------


def _eval(args: argparse.Namespace) -> int:
    from .call import calls_from_document
    from .documents import load_document
    from .load import load
    from .tenant import Tenant

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
