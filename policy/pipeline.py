"""Load: the pipeline in one place — source → parse → check → compile → engine."""

from __future__ import annotations

import os
from pathlib import Path

from . import astcache
from .check import check_modules
from .compile import CompiledPolicy, compile_policy
from .errors import CheckError, Finding, PolicyError, PolicySyntaxError
from .evaluate import Engine
from .ratecard import RateCard
from .resources import rules_dir
from .source import read_policy_sources

__all__ = ["default_ratecard_path", "load", "load_policy", "policy_findings"]

PathLike = str | os.PathLike[str]


def policy_findings(*paths: PathLike) -> tuple[CompiledPolicy | None, list[Finding]]:
    """Every finding of the policy at ``paths`` and, when it has no errors, the compiled policy.

    Syntax errors stop a file (one per file); the checker then reports everything else.
    """
    try:
        sources = read_policy_sources(*(paths or (rules_dir(),)))
    except PolicyError as exc:  # a missing, binary or unreadable file is a finding too
        return None, list(exc.findings)
    modules = []
    findings: list[Finding] = []
    for source in sources:
        module = astcache.lookup(source.name, source.text)
        if module is None:
            from .parser import parse  # Lark is imported only when a file must be parsed

            try:
                module = parse(source.text, source.name)
            except PolicySyntaxError as exc:
                findings.append(exc.finding)
                continue
            astcache.remember(module, source.text)
        modules.append(module)
    if findings:
        return None, findings
    catalog, found = check_modules(modules)
    findings.extend(found)
    if any(f.is_error for f in findings):
        return None, findings
    return compile_policy(catalog), findings


def load_policy(*paths: PathLike) -> CompiledPolicy:
    """Parse, check and compile; raise the first error (a PolicyError subclass)."""
    compiled, findings = policy_findings(*paths)
    errors = [f for f in findings if f.is_error]
    if compiled is None or errors:
        first = errors[0]
        kind = PolicySyntaxError if first.code == "syntax" else CheckError
        raise kind.from_finding(first, tuple(errors))
    return compiled


def default_ratecard_path(*policy_paths: PathLike) -> Path | None:
    """``rates.csv`` beside the policy if there is one, else the bundled illustrative card."""
    for raw in policy_paths:
        path = Path(raw)
        folder = path if path.is_dir() else path.parent
        if (folder / "rates.csv").is_file():
            return folder / "rates.csv"
    bundled = rules_dir() / "rates.csv"
    return bundled if bundled.is_file() else None


def load(
    path: PathLike | None = None,
    *,
    rates: PathLike | RateCard | None = None,
) -> Engine:
    """An engine for the policy at ``path`` (default: the bundled Teams rules).

    ``rates`` is a rate card (CSV path or RateCard); by default ``rates.csv`` beside the
    policy, else the bundled illustrative card.
    """
    paths: tuple[PathLike, ...] = (path,) if path is not None else (rules_dir(),)
    policy = load_policy(*paths)
    if isinstance(rates, RateCard):
        card = rates
    else:
        card_path = Path(rates) if rates is not None else default_ratecard_path(*paths)
        card = RateCard.from_file(card_path) if card_path else RateCard.from_rows([])
    return Engine(policy, card)
