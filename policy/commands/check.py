"""``ccpolicy check``: parse and check policies, validate data files; print every finding."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy.commands.common import choose_policy, is_bundled, paths_to_verify, print_findings
from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK, Finding, PolicyError

if TYPE_CHECKING:
    from policy.data.call import Call
    from policy.data.tenant import Tenant
    from policy.engine.compile import CompiledPolicy

NAME = "check"
DATA_SUFFIXES = {".yaml", ".yml", ".json", ".jsonl", ".csv"}


def register(commands: Any) -> None:
    check = commands.add_parser(
        NAME,
        help="check policies and data files",
        description="Parse and check policy directories/.ccp files and validate data files "
        "(tenant, calls, rate cards) against their schemas. Prints every finding. "
        "Exit 0 clean (warnings allowed), 1 errors (or warnings with --strict), 2 usage.",
    )
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="policy dirs, .ccp files, tenant/calls/rate-card files; 'bundled' for the "
        "bundled rules (default: the current directory when it holds .ccp files)",
    )
    check.add_argument(
        "--rules",
        metavar="DIR",
        help="policy to check data files against; 'bundled' for the bundled rules (default: "
        "the policy among PATHs, else the current directory's .ccp files, else the bundled "
        "rules — said on stderr)",
    )
    check.add_argument(
        "--format",
        choices=("text", "json", "sarif"),
        default="text",
        help="text (default), json, or sarif (SARIF 2.1.0 for code-scanning UIs)",
    )
    check.add_argument(
        "--rates",
        metavar="R.csv",
        help="the rate card tenants are priced with (default: a rate card among PATHs, "
        "else rates.csv beside the policy, else the bundled card) — as eval chooses it",
    )
    check.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")


def run(args: argparse.Namespace) -> int:
    return _check(args)


def _classify_paths(paths: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """Policies and data files among ``paths``; a file named twice (``DIR DIR/t.yaml``)
    is checked once, where it first appears."""
    policies: list[Path] = []
    data: list[Path] = []
    seen: set[Path] = set()

    def first_time(path: Path) -> bool:
        key = path.resolve()
        if key in seen:
            return False
        seen.add(key)
        return True

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if any(path.glob("*.ccp")) and first_time(path):
                policies.append(path)
            data.extend(
                sorted(
                    p
                    for p in path.iterdir()
                    if p.suffix in DATA_SUFFIXES and p.is_file() and first_time(p)
                )
            )
        elif path.suffix == ".ccp":
            if first_time(path) and path.parent.resolve() not in seen:
                policies.append(path)
        elif first_time(path):
            data.append(path)
    return policies, data


def _check(args: argparse.Namespace) -> int:
    from policy.pipeline import policy_findings
    from policy.support.resources import rules_dir
    from policy.tools.analysis import analysis_findings

    paths = paths_to_verify(args.paths, "check", str(rules_dir()))
    policies, data = _classify_paths(paths)
    findings: list[Finding] = []
    checked: CompiledPolicy | None = None
    for path in policies:
        compiled, found = policy_findings(path)
        findings.extend(found)
        if compiled is not None:
            findings.extend(analysis_findings(compiled))
            checked = checked or compiled
    rules_for_data: CompiledPolicy | None = checked
    policy_path: Path | None = policies[0] if policies else None
    fallback: str | None = None
    if args.rules:
        policy_path = rules_dir() if is_bundled(args.rules) else Path(args.rules)
        compiled, found = policy_findings(policy_path)
        if compiled is None:
            findings.extend(found)
        rules_for_data = compiled
    elif rules_for_data is None and data and not policies:
        chosen, _ = choose_policy(None)  # data files alone: checked against which policy?
        fallback = (
            "the .ccp files in the current directory"
            if chosen is not None
            else "the bundled rules (rules/); name yours with --rules"
        )
        policy_path = Path(chosen) if chosen is not None else rules_dir()
        rules_for_data, _ = policy_findings(policy_path)
    tenants: list[Tenant] = []
    for path in data:
        findings.extend(_check_data(path, rules_for_data, tenants))
    if tenants:
        findings.extend(_currency_findings(tenants, _card_for(args.rates, data, policy_path)))
    if fallback is not None and tenants:  # say which policy the tenants were checked against
        sys.stderr.write(f"note: tenants checked against {fallback}\n")
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
    elif args.format == "sarif":
        from policy.tools.sarif import to_sarif

        json.dump(to_sarif(findings), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_findings(findings, sys.stdout)
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
        if "tests" in data or path.name.endswith(("_test.yaml", "_test.yml")):
            return "test"
        if "tenant" in data:
            return "tenant"
        if path.with_suffix(".csv").is_file() or "rounding" in data:
            return "sidecar"  # R.yaml beside R.csv: the rate card's currency and rounding
        if {"id", "direction", "to"} <= set(data):
            return "call"
    return None


def _card_for(rates: str | None, data: Sequence[Path], policy: Path | None) -> Path | None:
    """The rate card ``eval`` would price the tenants with: ``--rates``, else a rate card
    among the PATHs, else ``rates.csv`` beside the policy, else the bundled card."""
    from policy.pipeline import default_ratecard_path

    if rates:
        return Path(rates)
    for path in data:
        if path.suffix.lower() == ".csv" and not _is_calls_csv(path):
            return path
    return default_ratecard_path(*((policy,) if policy is not None else ()))


def _currency_findings(tenants: Sequence[Tenant], card_path: Path | None) -> list[Finding]:
    """What ``eval`` would refuse: a tenant paying in another currency than the card's."""
    from policy.language.source import display_name
    from policy.pricing.ratecard import RateCard

    if card_path is None:
        return []
    try:
        card = RateCard.from_file(card_path)
    except PolicyError:
        return []  # the card's own errors are reported where it is checked
    findings = []
    for tenant in tenants:
        if card.currency is not None and card.currency != tenant.currency:
            findings.append(
                Finding(
                    "error",
                    f"the tenant pays in {tenant.currency} but the rate card "
                    f"{display_name(card_path)} is priced in {card.currency}: eval would "
                    "refuse this tenant",
                    location=tenant.location(("currency",)),
                    path="currency",
                    hint="name the tenant's rate card: ccpolicy check POLICY tenant.yaml "
                    "rates.csv (or --rates R.csv)",
                    code="currency",
                )
            )
    return findings


def _check_data(
    path: Path, policy: CompiledPolicy | None, tenants: list[Tenant] | None = None
) -> list[Finding]:
    from policy.data.documents import load_document
    from policy.data.validation import validate
    from policy.language.source import display_name
    from policy.pricing.ratecard import RateCard
    from policy.support.errors import Location

    name = display_name(path)
    try:
        if path.suffix.lower() in (".csv", ".jsonl", ".ndjson"):
            if path.suffix.lower() != ".csv" or _is_calls_csv(path):
                return _check_calls(path)
            RateCard.from_file(path)
            return []
        _refuse_huge(path, name)
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
            from policy.data.tenant import Tenant
            from policy.engine.binding import tenant_findings

            tenant = Tenant.from_file(path)
            if tenants is not None:
                tenants.append(tenant)
            return tenant_findings(policy, tenant)
        if kind == "calls":
            return _check_calls(path)
        if kind == "call":
            return _check_call_numbers(document)
        if kind == "test":
            from policy.tools.testing import reference_findings

            return reference_findings(path, document)
        return []
    except PolicyError as exc:
        return list(exc.findings)


def _is_calls_csv(path: Path) -> bool:
    """A CSV of calls (call columns, or a PSTN usage report) rather than a rate card."""
    from policy.rating.cdr import sniff_calls_format

    try:
        with open(path, encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    except OSError:
        return False
    return sniff_calls_format(header) == "csv"


def _refuse_huge(path: Path, name: str) -> None:
    """A YAML/JSON data file is read whole: one larger than calls files may be is refused
    (tenants, rate-card sidecars and policy tests are far smaller)."""
    from policy.rating.cdr import MAX_WHOLE_CALLS_BYTES
    from policy.support.errors import InputError, Location

    try:
        size = path.stat().st_size
    except OSError:
        return
    if size > MAX_WHOLE_CALLS_BYTES:
        raise InputError(
            f"{size:,} bytes: YAML and JSON data files are read whole, up to "
            f"{MAX_WHOLE_CALLS_BYTES:,} bytes",
            location=Location(name),
            hint="write calls as JSON Lines (.jsonl, one call per line): streamed at "
            "constant memory",
        )


def _check_calls(path: Path) -> list[Finding]:
    """A calls file in any format, read as every command reads it: every bad record (up
    to a cap) and every impossible number, located."""
    from policy.rating.cdr import open_calls

    with open_calls(path) as source:
        try:
            source.checked(_numbers_possible)
        except PolicyError as exc:
            return list(exc.findings)
    return []


def _numbers_possible(call: Call) -> None:
    from policy.data.numbers import BadNumber, classify
    from policy.support.errors import EvaluationError

    for field, text in (("to", call.to), ("from", call.from_)):
        if not text:
            continue
        try:
            classify(text, "US")
        except BadNumber as exc:
            raise EvaluationError(
                str(exc), location=call.where, path=call.field_path(field), code="number"
            ) from None


def _check_call_numbers(document: Any) -> list[Finding]:
    from policy.data.numbers import BadNumber, classify
    from policy.support.errors import Location

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
