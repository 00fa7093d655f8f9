"""Check: semantic passes over the parsed modules.

Builds the :class:`Catalog` (the resolved symbol table the compiler needs) and
collects :class:`~policy.support.errors.Finding` s: unknown names with "did you mean",
duplicates, misplaced subjects, unused declarations. Each pass is a small function
listed in ``PASSES``; the CLI shows every finding, the library raises on the first
error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import phonenumbers

from policy.language import ast
from policy.language.catalog import Catalog
from policy.language.vocabulary import (
    BUILTIN_DENIALS,
    CONTEXTS,
    DESTINATION_KINDS,
    EVENTS,
    NUMBER_CLASSES,
)
from policy.support.errors import Finding, Location
from policy.support.suggest import did_you_mean

__all__ = ["PASSES", "Catalog", "build_catalog", "check_modules"]

COUNTRIES = frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)


class _Reporter:
    def __init__(self, modules: tuple[ast.Module, ...]) -> None:
        self._lines = {m.file: m.lines for m in modules}
        self.findings: list[Finding] = []

    def add(
        self,
        span: ast.Span,
        message: str,
        *,
        hint: str | None = None,
        severity: str = "error",
        code: str = "check",
    ) -> None:
        lines = self._lines.get(span.file, ())
        source = lines[span.line - 1] if 0 < span.line <= len(lines) else None
        self.findings.append(
            Finding(
                severity,
                message,
                location=Location(span.file, span.line, span.column),
                source_line=source,
                hint=hint,
                code=code,
            )
        )

    def unknown(self, kind: str, name: ast.Name, known: Iterable[str], extra: str = "") -> None:
        known = sorted(known) if isinstance(known, set | frozenset) else list(known)
        near = did_you_mean(name.value, known)
        message = f"unknown {kind} '{name.value}'{extra}"
        hint = None
        if near is not None:  # the reference's shape: "unknown role 'x' (did you mean 'y'?)"
            message += f" ({near})"
        elif known and len(known) <= 12:
            hint = "known: " + ", ".join(known)
        self.add(name.span, message, hint=hint, code="unknown-name")


# ---- building the catalogue (with duplicate detection) ----------------------------


def build_catalog(modules: Iterable[ast.Module]) -> tuple[Catalog, list[Finding]]:
    mods = tuple(modules)
    catalog = Catalog(mods)
    report = _Reporter(mods)
    seen: dict[tuple[str, str], ast.Span] = {}

    def declare(namespace: str, kind: str, name: ast.Name) -> bool:
        key = (namespace, name.value)
        if key in seen:
            first = seen[key]
            report.add(
                name.span,
                f"duplicate {kind} '{name.value}'",
                hint=f"first declared at {first.file}:{first.line}",
                code="duplicate",
            )
            return False
        seen[key] = name.span
        return True

    for module in mods:
        for stmt in module.statements:
            if isinstance(stmt, ast.Zone):
                if declare("region", "zone", stmt.name):
                    catalog.zones[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Area):
                if declare("region", "domestic area", stmt.name):
                    catalog.areas[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Licence):
                if declare("licence", "licence", stmt.name):
                    catalog.licences[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Plan):
                if declare("licence", "plan", stmt.name):
                    catalog.plans[stmt.name.value] = stmt
            elif isinstance(stmt, ast.SharedPool):
                if declare("pool", "pool", stmt.name):
                    catalog.shared_pools[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Role):
                if declare("role", "role", stmt.name):
                    catalog.roles[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Denial):
                if declare("denial", "denial", stmt.name):
                    catalog.denials[stmt.name.value] = stmt
            elif isinstance(stmt, ast.Scenario):
                if declare("scenario", "scenario", stmt.name):
                    catalog.scenarios.append(stmt)
            elif isinstance(stmt, ast.Notify):
                catalog.notifies.append(stmt)
    return catalog, report.findings


# ---- passes ---------------------------------------------------------------------------

Pass = Callable[[Catalog, _Reporter], None]


def _check_countries(catalog: Catalog, report: _Reporter) -> None:
    def check(code: ast.Name) -> None:
        if code.value not in COUNTRIES:
            report.unknown("country code", code, sorted(COUNTRIES))

    for decl in catalog.regions.values():
        for code in decl.countries:
            check(code)
        seen: set[str] = set()
        for code in decl.countries:
            if code.value in seen:
                report.add(
                    code.span,
                    f"'{code.value}' is listed twice",
                    severity="warning",
                    code="duplicate",
                )
            seen.add(code.value)
    for area in catalog.areas.values():
        members = {c.value for c in area.countries}
        for pooling in area.pooling:
            for code in (*pooling.countries, pooling.target):
                check(code)
                if code.value not in members:
                    report.add(
                        code.span,
                        f"'{code.value}' is not one of the area's countries",
                        hint="pooling joins countries of the same domestic area",
                        code="type",
                    )
    countries_in_areas: dict[str, str] = {}
    for area in catalog.areas.values():
        for code in area.countries:
            other = countries_in_areas.setdefault(code.value, area.name.value)
            if other != area.name.value:
                report.add(
                    code.span,
                    f"'{code.value}' is already in domestic area '{other}'",
                    hint="a country can belong to one domestic area only",
                    code="duplicate",
                )
    for cond in _all_conditions(catalog):
        if isinstance(cond, ast.DestinationIn | ast.CallerIn) and cond.region.name is None:
            for code in cond.region.countries:
                check(code)


def _check_plans(catalog: Catalog, report: _Reporter) -> None:
    for plan in catalog.plans.values():
        names: set[str] = set()
        for pool in plan.pools:
            if pool.name.value in names:
                report.add(
                    pool.name.span,
                    f"plan '{plan.name.value}' declares pool '{pool.name.value}' twice",
                    code="duplicate",
                )
            names.add(pool.name.value)
            if pool.name.value in catalog.shared_pools:
                report.add(
                    pool.name.span,
                    f"pool name '{pool.name.value}' is also a conferencing pool",
                    hint="give plan pools and conferencing pools different names",
                    code="duplicate",
                )
            defaults = [a for a in pool.allowances if a.region is None]
            if len(defaults) > 1:
                report.add(
                    defaults[1].span,
                    "more than one default allowance ('elsewhere')",
                    code="duplicate",
                )
            regions_seen: set[str] = set()
            for allowance in pool.allowances:
                if allowance.region is None:
                    continue
                if allowance.region.value not in catalog.regions:
                    report.unknown("zone or domestic area", allowance.region, catalog.regions)
                elif allowance.region.value in regions_seen:
                    report.add(
                        allowance.region.span,
                        f"'{allowance.region.value}' has two allowances",
                        code="duplicate",
                    )
                regions_seen.add(allowance.region.value)
            if not defaults and pool.allowances:
                report.add(
                    pool.span,
                    f"pool '{pool.name.value}' gives no minutes outside "
                    + ", ".join(sorted(regions_seen)),
                    severity="warning",
                    hint="add e.g. ', 1200 elsewhere'",
                    code="coverage",
                )
            _check_warn(pool.warn, pool.span, report)
    for shared in catalog.shared_pools.values():
        if shared.licence.value not in catalog.licences:
            report.unknown("licence", shared.licence, catalog.all_licences())
        _check_warn(shared.warn, shared.span, report)


def _check_warn(levels: tuple[int, ...], span: ast.Span, report: _Reporter) -> None:
    for level in levels:
        if not 0 < level <= 100:
            report.add(span, f"warning threshold {level}% is outside 1%..100%", code="type")
    if list(levels) != sorted(set(levels)):
        report.add(span, "warning thresholds must rise and not repeat", code="type")


def _check_credits_licence(catalog: Catalog, report: _Reporter) -> None:
    credits = [lic for lic in catalog.licences.values() if lic.credits]
    for extra in credits[1:]:
        report.add(
            extra.span,
            "only one licence can be the credits licence",
            hint=f"'{credits[0].name.value}' is already",
            code="duplicate",
        )
    needs = [s for s in catalog.scenarios if _payers(s) - {"tenant"}]
    if needs and not credits:
        report.add(
            needs[0].outcome.span,
            "this scenario charges a user's credits but no 'credits licence' is declared",
            hint="declare e.g. 'credits licence communications_credits'",
            code="unknown-name",
        )


def _payers(scenario: ast.Scenario) -> set[str]:
    out = scenario.outcome
    if isinstance(out, ast.PayCredits):
        return {out.payer}
    if isinstance(out, ast.PayPool) and out.spill:
        return {out.spill}
    return set()


def _all_conditions(catalog: Catalog) -> Iterator[ast.Condition]:
    return ast.scenario_conditions(catalog.scenarios)


def _requires_meeting(cond: ast.Condition) -> bool:
    """True when the condition can hold only for meeting calls."""
    if isinstance(cond, ast.FromContext):
        return cond.context.value == "meeting"
    if isinstance(cond, ast.AllOf):
        return any(_requires_meeting(c) for c in cond.items)
    if isinstance(cond, ast.AnyOf):
        return all(_requires_meeting(c) for c in cond.items)
    return False


def _check_scenarios(catalog: Catalog, report: _Reporter) -> None:
    denials = {*catalog.denials, *BUILTIN_DENIALS}
    pools = {*catalog.shared_pools, *catalog.plan_pool_names}
    for scenario in catalog.scenarios:
        meeting_only = _requires_meeting(scenario.condition)
        conditions = [scenario.condition, *(g.condition for g in scenario.guards)]
        for cond in (c for top in conditions for c in ast.walk(top)):
            _check_condition(cond, catalog, report, pools, meeting_only)
        for guard in scenario.guards:
            if guard.denial.value not in denials:
                report.unknown("denial", guard.denial, denials)
        out = scenario.outcome
        if isinstance(out, ast.PayDeny) and out.denial.value not in denials:
            report.unknown("denial", out.denial, denials)
        if isinstance(out, ast.PayPool) and out.pool.value not in pools:
            report.unknown("pool", out.pool, pools)
        for payer in _payers(scenario):
            if payer == "organizer" and not meeting_only:
                report.add(
                    out.span,
                    "'organizer' is known only for meeting calls",
                    hint="add 'from meeting' to the scenario's condition",
                    code="type",
                )
        if isinstance(out, ast.PayIncluded) and out.paid_by not in ("conferencing", "plan"):
            report.add(out.span, f"unknown inclusion '{out.paid_by}'", code="type")


def _check_condition(
    cond: ast.Condition,
    catalog: Catalog,
    report: _Reporter,
    pools: set[str],
    meeting_only: bool,
) -> None:
    if isinstance(cond, ast.FromContext) and cond.context.value not in CONTEXTS:
        report.unknown("call context", cond.context, CONTEXTS)
    elif isinstance(cond, ast.ToIs) and cond.number_class.value not in NUMBER_CLASSES:
        report.unknown("number class", cond.number_class, NUMBER_CLASSES)
    elif isinstance(cond, ast.DestinationIs) and cond.what.value not in DESTINATION_KINDS:
        hint_extra = ""
        if cond.what.value in catalog.regions:
            hint_extra = f" (to test membership write 'destination in {cond.what.value}')"
        report.unknown("destination kind", cond.what, DESTINATION_KINDS, hint_extra)
    elif isinstance(cond, ast.DestinationIn | ast.CallerIn):
        name = cond.region.name
        if name is not None and name.value not in catalog.regions:
            report.unknown("zone or domestic area", name, catalog.regions)
    elif isinstance(cond, ast.HasLicence):
        if cond.licence.value not in catalog.licences and cond.licence.value not in catalog.plans:
            report.unknown("licence", cond.licence, catalog.all_licences())
        _check_subject(cond.subject, cond.span, meeting_only, report)
    elif isinstance(cond, ast.PlanIs):
        if cond.plan.value not in catalog.plans:
            report.unknown("plan", cond.plan, catalog.plans)
        _check_subject(cond.subject, cond.span, meeting_only, report)
    elif isinstance(cond, ast.HasCallingPlan):
        _check_subject(cond.subject, cond.span, meeting_only, report)
    elif isinstance(cond, ast.PoolHasMinutes) and cond.pool.value not in pools:
        report.unknown("pool", cond.pool, pools)


def _check_subject(subject: str, span: ast.Span, meeting_only: bool, report: _Reporter) -> None:
    if subject == "organizer" and not meeting_only:
        report.add(
            span,
            "'organizer' is known only for meeting calls",
            hint="add 'from meeting' to the scenario's condition",
            code="type",
        )


def _check_notify(catalog: Catalog, report: _Reporter) -> None:
    for notify in catalog.notifies:
        for event in notify.events:
            if event.value not in EVENTS:
                report.unknown("event", event, EVENTS)
        for role in notify.roles:
            if role.value not in catalog.roles:
                report.unknown("role", role, catalog.roles)


def _check_unused(catalog: Catalog, report: _Reporter) -> None:
    used_regions: set[str] = set()
    used_denials: set[str] = set()
    for cond in _all_conditions(catalog):
        if isinstance(cond, ast.DestinationIn | ast.CallerIn) and cond.region.name:
            used_regions.add(cond.region.name.value)
    for plan in catalog.plans.values():
        for pool in plan.pools:
            used_regions.update(a.region.value for a in pool.allowances if a.region)
    for scenario in catalog.scenarios:
        used_denials.update(g.denial.value for g in scenario.guards)
        if isinstance(scenario.outcome, ast.PayDeny):
            used_denials.add(scenario.outcome.denial.value)
    for name, zone in catalog.zones.items():
        if name not in used_regions:
            report.add(
                zone.name.span, f"zone '{name}' is never used", severity="warning", code="unused"
            )
    for name, denial in catalog.denials.items():
        if name not in used_denials and name not in BUILTIN_DENIALS:
            report.add(
                denial.name.span,
                f"denial '{name}' is never used",
                severity="warning",
                code="unused",
            )
    routed = {r.value for n in catalog.notifies for r in n.roles}
    for name, role in catalog.roles.items():
        if name not in routed:
            report.add(
                role.name.span,
                f"role '{name}' is never notified",
                severity="warning",
                code="unused",
            )


PASSES: tuple[Pass, ...] = (
    _check_countries,
    _check_plans,
    _check_credits_licence,
    _check_scenarios,
    _check_notify,
    _check_unused,
)


def check_modules(modules: Iterable[ast.Module]) -> tuple[Catalog, list[Finding]]:
    """Build the catalogue and run every pass; findings in file/line order."""
    catalog, findings = build_catalog(modules)
    report = _Reporter(catalog.modules)
    for check in PASSES:
        check(catalog, report)
    everything = findings + report.findings
    order = {m.file: i for i, m in enumerate(catalog.modules)}
    everything.sort(
        key=lambda f: (
            order.get(f.location.file, -1) if f.location else -1,
            f.location.line if f.location else 0,
            f.location.column if f.location else 0,
        )
    )
    return catalog, everything
