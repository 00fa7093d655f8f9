"""policy.language.parser: the bundled rules, line endings, spans, nesting, syntax errors.

Every grammar construct and every syntax-error message is a fixture in
``tests/language/parse/`` (run by ``tests/test_language_fixtures.py``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from policy.language import ast
from policy.language.parser import parse
from policy.support.errors import PolicyError, PolicySyntaxError
from policy.support.resources import rules_dir

RULES = rules_dir()


def _module(name: str) -> ast.Module:
    path = RULES / name
    return parse(path.read_text(encoding="utf-8"), f"rules/{name}")


@pytest.fixture(scope="module")
def catalog() -> ast.Module:
    return _module("catalog.ccp")


@pytest.fixture(scope="module")
def scenarios() -> ast.Module:
    return _module("scenarios.ccp")


def _one(text: str) -> ast.Statement:
    module = parse(text, "t.ccp")
    assert len(module.statements) == 1, module.statements
    return module.statements[0]


def _condition(condition: str, outcome: str = "then free") -> ast.Condition:
    stmt = _one(f'scenario s "S": when {condition} {outcome}\n')
    assert isinstance(stmt, ast.Scenario)
    return stmt.condition


def _syntax_error(text: str, file: str = "t.ccp") -> PolicySyntaxError:
    with pytest.raises(PolicySyntaxError) as info:
        parse(text, file)
    return info.value


def _by_kind(module: ast.Module, kind: type) -> list:
    return [s for s in module.statements if isinstance(s, kind)]


# ---- the bundled rules -----------------------------------------------------------------------


def test_bundled_catalog_statement_counts(catalog: ast.Module) -> None:
    kinds = Counter(type(s).__name__ for s in catalog.statements)
    assert kinds == {
        "Zone": 3,
        "Area": 1,
        "Licence": 4,
        "Plan": 5,
        "SharedPool": 1,
        "Denial": 4,
        "Role": 20,
        "Notify": 1,
    }


def test_bundled_scenarios_are_all_scenarios(scenarios: ast.Module) -> None:
    kinds = Counter(type(s).__name__ for s in scenarios.statements)
    assert kinds == {"Scenario": 19}
    names = [s.name.value for s in scenarios.statements]
    assert names[0] == "emergency"
    assert names[-1] == "international_on_domestic_plan"
    assert len(set(names)) == len(names)


def test_module_keeps_file_and_lines(catalog: ast.Module) -> None:
    text = (RULES / "catalog.ccp").read_text(encoding="utf-8")
    assert catalog.file == "rules/catalog.ccp"
    assert catalog.lines == tuple(text.splitlines())


def test_zone_a_has_44_countries(catalog: ast.Module) -> None:
    zones = {z.name.value: z for z in _by_kind(catalog, ast.Zone)}
    zone_a = zones["zone_a"]
    codes = [c.value for c in zone_a.countries]
    assert len(codes) == 44
    assert len(set(codes)) == 44
    assert {"US", "PR", "CA", "GB", "DE", "JP", "ZA"} <= set(codes)
    assert zone_a.title == "Audio Conferencing Zone A"
    assert [c.value for c in zones["us_and_canada"].countries] == ["US", "CA"]
    assert [c.value for c in zones["premium_rate_unsupported"].countries] == ["US", "CA", "DE"]


def test_north_america_pools_pr_with_us(catalog: ast.Module) -> None:
    (area,) = _by_kind(catalog, ast.Area)
    assert area.name.value == "north_america"
    assert [c.value for c in area.countries] == ["US", "PR", "CA"]
    (pooling,) = area.pooling
    assert [c.value for c in pooling.countries] == ["PR"]
    assert pooling.target.value == "US"


def test_plan_order_and_pools(catalog: ast.Module) -> None:
    plans = _by_kind(catalog, ast.Plan)
    assert [p.name.value for p in plans] == [
        "domestic_international_calling_plan",
        "domestic_calling_plan",
        "domestic_calling_plan_240",
        "domestic_calling_plan_120",
        "pay_as_you_go_calling_plan",
    ]
    intl = plans[0]
    assert [p.name.value for p in intl.pools] == ["domestic", "international"]
    domestic = intl.pools[0]
    first, second = domestic.allowances
    assert (first.minutes, first.region.value if first.region else None) == (3000, "north_america")
    assert (second.minutes, second.region, second.elsewhere) == (1200, None, True)
    assert intl.pools[1].allowances[0].minutes == 600
    assert [a.minutes for p in plans[2].pools for a in p.allowances] == [240]
    assert [a.minutes for p in plans[3].pools for a in p.allowances] == [120]
    assert plans[4].pools == ()


def test_conferencing_pool(catalog: ast.Module) -> None:
    (pool,) = _by_kind(catalog, ast.SharedPool)
    assert pool.name.value == "zone_a"
    assert pool.minutes == 60
    assert pool.licence.value == "audio_conferencing"
    assert pool.warn == (80, 100)


def test_licences_and_credits_licence(catalog: ast.Module) -> None:
    licences = {lic.name.value: lic.credits for lic in _by_kind(catalog, ast.Licence)}
    assert licences == {
        "teams_phone": False,
        "audio_conferencing": False,
        "audio_conferencing_us_ca_dial_out": False,
        "communications_credits": True,
    }


def test_notify_routes_all_roles(catalog: ast.Module) -> None:
    (notify,) = _by_kind(catalog, ast.Notify)
    roles = {r.name.value for r in _by_kind(catalog, ast.Role)}
    assert [e.value for e in notify.events] == [
        "recharge_succeeded",
        "recharge_failed",
        "balance_zero",
        "pool_threshold",
    ]
    assert {r.value for r in notify.roles} == roles
    assert len(notify.roles) == 20


def test_emergency_scenario(scenarios: ast.Module) -> None:
    emergency = scenarios.statements[0]
    assert isinstance(emergency, ast.Scenario)
    assert emergency.span == ast.Span("rules/scenarios.ccp", 9, 1)
    assert emergency.sentence == "Emergency calls are always connected and free"
    cond = emergency.condition
    assert isinstance(cond, ast.AllOf)
    direction, to_is = cond.items
    assert direction == ast.IsDirection("outbound", ast.Span("rules/scenarios.ccp", 10, 10))
    assert isinstance(to_is, ast.ToIs)
    assert to_is.number_class.value == "emergency"
    assert isinstance(emergency.outcome, ast.PayFree)
    assert emergency.guards == ()


def test_conference_zone_a_scenario(scenarios: ast.Module) -> None:
    by_name = {s.name.value: s for s in scenarios.statements}
    zone_a = by_name["conference_zone_a"]
    assert isinstance(zone_a.outcome, ast.PayPool)
    assert zone_a.outcome.pool.value == "zone_a"
    assert zone_a.outcome.spill == "organizer"
    last = zone_a.condition.items[-1]
    assert isinstance(last, ast.DestinationIn)
    assert last.region.name is not None and last.region.name.value == "zone_a"

    licence_required = by_name["conferencing_licence_required"]
    assert isinstance(licence_required.outcome, ast.PayDeny)
    assert licence_required.outcome.denial.value == "no_conferencing_license"
    negated = licence_required.condition.items[-1]
    assert isinstance(negated, ast.Not)
    assert negated.item.subject == "organizer"
    assert negated.item.licence.value == "audio_conferencing"

    payg = by_name["pay_as_you_go"]
    plan_is = payg.condition.items[-1]
    assert isinstance(plan_is, ast.PlanIs)
    assert (plan_is.subject, plan_is.plan.value) == ("user", "pay_as_you_go_calling_plan")
    assert payg.outcome == ast.PayCredits("user", payg.outcome.span)


def test_voice_app_scenario_has_or_in_parentheses(scenarios: ast.Module) -> None:
    by_name = {s.name.value: s for s in scenarios.statements}
    cond = by_name["voice_app_transfer"].condition
    assert isinstance(cond, ast.AllOf)
    either = cond.items[1]
    assert isinstance(either, ast.AnyOf)
    assert [c.context.value for c in either.items] == ["auto_attendant", "call_queue"]
    assert by_name["voice_app_transfer"].outcome.payer == "tenant"


# ---- layout and spans ---------------------------------------------------------------------------


def test_windows_line_endings() -> None:
    module = parse(
        'zone z = US\r\nrole r\r\nscenario s "S":\r\n when inbound then free\r\n', "w.ccp"
    )
    assert [type(s) for s in module.statements] == [ast.Zone, ast.Role, ast.Scenario]
    assert module.statements[2].condition.span.line == 4


def test_statement_spans_name_the_file() -> None:
    module = parse("role a\n\n  role b\n", "some/dir/x.ccp")
    assert [s.span for s in module.statements] == [
        ast.Span("some/dir/x.ccp", 1, 1),
        ast.Span("some/dir/x.ccp", 3, 3),
    ]


def test_nested_parentheses_are_fine() -> None:
    depth = 200
    cond = _condition("(" * depth + "inbound" + ")" * depth)
    assert isinstance(cond, ast.IsDirection)


# ---- syntax errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\x0c", "\u2028", "\x85"])
def test_caret_line_is_the_line_of_the_error(separator: str) -> None:
    err = _syntax_error(f"role r # page{separator}break\nzone z = us\n")
    assert str(err.finding.location) == "t.ccp:2:10"
    assert err.finding.source_line == "zone z = us"
    assert err.render().splitlines()[1] == "    zone z = us"


def test_syntax_error_is_a_policy_error_with_findings() -> None:
    err = _syntax_error("zone\n")
    assert isinstance(err, PolicyError)
    assert err.findings == (err.finding,)
    assert err.exit_code == 1
    assert err.finding.source_line == "zone"


def test_file_name_is_reported() -> None:
    err = _syntax_error("role R\n", file="rules/teams.ccp")
    assert err.finding.location is not None
    assert err.finding.location.file == "rules/teams.ccp"
    assert str(err).startswith("rules/teams.ccp:1:6: error: ")


def test_deeply_nested_not_does_not_crash() -> None:
    text = 'scenario s "S": when ' + "not " * 2000 + "inbound then free\n"
    try:
        module = parse(text, "deep.ccp")
    except PolicyError:
        return
    assert isinstance(module.statements[0], ast.Scenario)


def test_bundled_rules_read_from_disk_parse() -> None:
    for path in sorted(Path(RULES).glob("*.ccp")):
        module = parse(path.read_text(encoding="utf-8"), path.name)
        assert module.statements
