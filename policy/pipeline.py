"""Load: the pipeline in one place — source → parse → check → compile → engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from policy import loadcache
from policy.engine.compile import CompiledPolicy, compile_policy
from policy.engine.evaluate import Engine
from policy.language.source import read_policy_sources
from policy.pricing.ratecard import RateCard
from policy.support.errors import CheckError, Finding, PolicyError, PolicySyntaxError
from policy.support.resources import rules_dir

if TYPE_CHECKING:
    from policy.language.source import SourceFile

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
    return _sources_findings(sources)


def _sources_findings(sources: list[SourceFile]) -> tuple[CompiledPolicy | None, list[Finding]]:
    from policy.language import astcache
    from policy.language.check import check_modules  # the full checker (a warm load() skips both)

    modules = []
    findings: list[Finding] = []
    for source in sources:
        module = astcache.lookup(source.name, source.text)
        if module is None:
            from policy.language.parser import (
                parse,  # Lark is imported only when a file must be parsed
            )

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


def _first_error(compiled: CompiledPolicy | None, findings: list[Finding]) -> CompiledPolicy:
    """The compiled policy, or the first error raised (a PolicyError subclass)."""
    errors = [f for f in findings if f.is_error]
    if compiled is None or errors:
        first = errors[0]
        kind = PolicySyntaxError if first.code == "syntax" else CheckError
        raise kind.from_finding(first, tuple(errors))
    return compiled


def load_policy(*paths: PathLike) -> CompiledPolicy:
    """Parse, check and compile; raise the first error (a PolicyError subclass)."""
    return _first_error(*policy_findings(*paths))


def _load_policy_cached(*paths: PathLike) -> CompiledPolicy:
    """:func:`load_policy`, skipping parse and check for sources that checked clean before
    (:mod:`policy.loadcache`)."""
    try:
        sources = read_policy_sources(*paths)
    except PolicyError:
        return load_policy(*paths)  # which reports it as it always has
    catalog = loadcache.checked_catalog(sources)
    if catalog is not None:
        return compile_policy(catalog)
    compiled = _first_error(*_sources_findings(sources))
    loadcache.remember_catalog(sources, compiled.catalog)
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
    policy, else the bundled illustrative card. What was built before from the same
    files comes from the cache (:mod:`policy.loadcache`).
    """
    paths: tuple[PathLike, ...] = (path,) if path is not None else (rules_dir(),)
    policy = _load_policy_cached(*paths)
    if isinstance(rates, RateCard):
        card = rates
    else:
        card_path = Path(rates) if rates is not None else default_ratecard_path(*paths)
        card = loadcache.ratecard(card_path) if card_path else RateCard.from_rows([])
    return Engine(policy, card)
