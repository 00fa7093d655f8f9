"""policy.language.parser: the bundled rules, every grammar construct, syntax errors."""

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


def _outcome(outcome: str) -> ast.Outcome:
    stmt = _one(f'scenario s "S": when outbound {outcome}\n')
    assert isinstance(stmt, ast.Scenario)
    return stmt.outcome


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


# ---- every construct -------------------------------------------------------------------------


def test_empty_and_comment_only_text() -> None:
    assert parse("", "e.ccp").statements == ()
    assert parse("# nothing here\n\n   # at all\n", "e.ccp").statements == ()


def test_zone_with_and_without_title() -> None:
    zone = _one('zone z "Zed" = US CA\n')
    assert zone == ast.Zone(
        ast.Name("z", ast.Span("t.ccp", 1, 6)),
        "Zed",
        (ast.Name("US", ast.Span("t.ccp", 1, 16)), ast.Name("CA", ast.Span("t.ccp", 1, 19))),
        ast.Span("t.ccp", 1, 1),
    )
    bare = _one("zone z = DE\n")
    assert isinstance(bare, ast.Zone) and bare.title is None
    assert [c.value for c in bare.countries] == ["DE"]


def test_domestic_area_with_and_without_pooling() -> None:
    area = _one('domestic area na "NA" = US PR VI CA, PR VI pooled with US, CA pooled with US\n')
    assert isinstance(area, ast.Area)
    assert area.title == "NA"
    assert [c.value for c in area.countries] == ["US", "PR", "VI", "CA"]
    first, second = area.pooling
    assert [c.value for c in first.countries] == ["PR", "VI"]
    assert first.target == ast.Name("US", ast.Span("t.ccp", 1, 56))
    assert [c.value for c in second.countries] == ["CA"]
    assert second.target.value == "US"
    plain = _one("domestic area eu = DE FR\n")
    assert isinstance(plain, ast.Area) and plain.pooling == ()


@pytest.mark.parametrize(
    ("text", "credits"),
    [
        ("licence teams_phone\n", False),
        ("license teams_phone\n", False),
        ("credits licence cc\n", True),
        ("credits license cc\n", True),
    ],
)
def test_licence_spellings(text: str, credits: bool) -> None:
    stmt = _one(text)
    assert isinstance(stmt, ast.Licence)
    assert stmt.credits is credits


def test_licence_title_and_role_and_denial() -> None:
    lic = _one('licence teams_phone "Teams Phone"\n')
    assert isinstance(lic, ast.Licence) and lic.title == "Teams Phone"
    role = _one('role billing_admin "Billing Administrator"\n')
    assert role == ast.Role(
        ast.Name("billing_admin", ast.Span("t.ccp", 1, 6)),
        "Billing Administrator",
        ast.Span("t.ccp", 1, 1),
    )
    denial = _one('denial nope "Say \\"no\\" with a \\\\ backslash."\n')
    assert isinstance(denial, ast.Denial)
    assert denial.sentence == 'Say "no" with a \\ backslash.'


def test_names_that_start_with_keywords_are_names() -> None:
    for name in ("user_zone", "nowhere", "tenant_z", "credits_admin", "organizers", "notable"):
        role = _one(f"role {name}\n")
        assert isinstance(role, ast.Role)
        assert role.name.value == name


def test_plan_pools_allowances_and_options() -> None:
    plan = _one(
        'plan p "P" {\n'
        "    pool domestic: 3000 minutes per user in na, 1200 elsewhere, warn at 50%, 90%\n"
        "    pool intl: 600 minutes per user, not pooled\n"
        "    pool other: 10 minutes per user elsewhere\n"
        "}\n"
    )
    assert isinstance(plan, ast.Plan)
    assert plan.title == "P"
    domestic, intl, other = plan.pools
    assert domestic.name == ast.Name("domestic", ast.Span("t.ccp", 2, 10))
    assert [
        (a.minutes, a.region.value if a.region else None, a.elsewhere) for a in domestic.allowances
    ] == [(3000, "na", False), (1200, None, True)]
    assert domestic.warn == (50, 90)
    assert domestic.per_user is False
    assert intl.per_user is True
    assert intl.allowances[0] == ast.Allowance(600, None, False, intl.allowances[0].span)
    assert other.allowances[0].elsewhere is True
    assert other.allowances[0].minutes == 10


def test_empty_plan() -> None:
    plan = _one("plan payg { }\n")
    assert isinstance(plan, ast.Plan)
    assert plan.pools == () and plan.title is None


def test_conferencing_pool_with_options() -> None:
    pool = _one(
        'conferencing pool za "Zone A": 60 minutes per audio_conferencing licence, '
        "tenant-wide, warn at 80%, 100%\n"
    )
    assert isinstance(pool, ast.SharedPool)
    assert (pool.name.value, pool.title, pool.minutes, pool.licence.value, pool.warn) == (
        "za",
        "Zone A",
        60,
        "audio_conferencing",
        (80, 100),
    )
    plain = _one("conferencing pool za: 5 minutes per x license\n")
    assert isinstance(plain, ast.SharedPool)
    assert plain.warn == () and plain.minutes == 5


def test_pool_options_after_warn_at() -> None:
    plan = _one("plan p { pool d: 10 minutes per user, warn at 80%, not pooled }\n")
    assert isinstance(plan, ast.Plan)
    assert plan.pools[0].per_user is True
    assert plan.pools[0].warn == (80,)
    pool = _one("conferencing pool za: 60 minutes per x licence, warn at 80%, tenant-wide\n")
    assert isinstance(pool, ast.SharedPool) and pool.warn == (80,)


def test_notify() -> None:
    notify = _one("notify balance_zero, recharge_failed to billing_admin, global_admin\n")
    assert isinstance(notify, ast.Notify)
    assert [e.value for e in notify.events] == ["balance_zero", "recharge_failed"]
    assert [r.value for r in notify.roles] == ["billing_admin", "global_admin"]
    assert notify.roles[1].span == ast.Span("t.ccp", 1, 56)


@pytest.mark.parametrize(
    ("condition", "node", "fields"),
    [
        ("inbound", ast.IsDirection, {"direction": "inbound"}),
        ("outbound", ast.IsDirection, {"direction": "outbound"}),
        ("caller shares calling code", ast.CallerSharesCode, {}),
        ("credits are set up", ast.CreditsSetUp, {}),
        ("balance is positive", ast.BalancePositive, {}),
    ],
)
def test_simple_atoms(condition: str, node: type, fields: dict[str, str]) -> None:
    cond = _condition(condition)
    assert type(cond) is node
    for name, value in fields.items():
        assert getattr(cond, name) == value


def test_named_atoms() -> None:
    from_ctx = _condition("from call_queue")
    assert isinstance(from_ctx, ast.FromContext) and from_ctx.context.value == "call_queue"
    to_is = _condition("to is premium_rate")
    assert isinstance(to_is, ast.ToIs) and to_is.number_class.value == "premium_rate"
    dest = _condition("destination is international")
    assert isinstance(dest, ast.DestinationIs) and dest.what.value == "international"
    pool = _condition("pool domestic has minutes left")
    assert isinstance(pool, ast.PoolHasMinutes) and pool.pool.value == "domestic"
    has = _condition("user has teams_phone")
    assert isinstance(has, ast.HasLicence)
    assert (has.subject, has.licence.value) == ("user", "teams_phone")
    plan = _condition("organizer's plan is p", "then free")
    assert isinstance(plan, ast.PlanIs) and (plan.subject, plan.plan.value) == ("organizer", "p")
    calling = _condition("organizer has calling plan")
    assert calling == ast.HasCallingPlan("organizer", calling.span)


def test_regions_by_name_and_by_list() -> None:
    named = _condition("destination in zone_a")
    assert isinstance(named, ast.DestinationIn)
    assert named.region.name is not None and named.region.name.value == "zone_a"
    assert named.region.countries == ()
    listed = _condition("caller in US CA PR")
    assert isinstance(listed, ast.CallerIn)
    assert listed.region.name is None
    assert [c.value for c in listed.region.countries] == ["US", "CA", "PR"]
    assert listed.region.countries[2].span == ast.Span("t.ccp", 1, 38)


@pytest.mark.parametrize(
    ("condition", "inner"),
    [
        ("to is not toll_free", ast.ToIs),
        ("destination is not domestic", ast.DestinationIs),
        ("destination not in zone_a", ast.DestinationIn),
        ("caller not in US", ast.CallerIn),
        ("user has no teams_phone", ast.HasLicence),
        ("user has no calling plan", ast.HasCallingPlan),
        ("user's plan is not p", ast.PlanIs),
        ("credits are not set up", ast.CreditsSetUp),
        ("balance is not positive", ast.BalancePositive),
        ("pool domestic has no minutes left", ast.PoolHasMinutes),
        ("not inbound", ast.IsDirection),
    ],
)
def test_negations_wrap_the_atom(condition: str, inner: type) -> None:
    cond = _condition(condition)
    assert isinstance(cond, ast.Not)
    assert type(cond.item) is inner


def test_double_negation_keeps_both() -> None:
    cond = _condition("not not inbound")
    assert isinstance(cond, ast.Not) and isinstance(cond.item, ast.Not)
    assert cond.item.item.direction == "inbound"
    cancelled = _condition("not to is not toll_free")
    assert isinstance(cancelled, ast.Not)
    assert isinstance(cancelled.item, ast.Not)
    assert isinstance(cancelled.item.item, ast.ToIs)


def test_and_binds_tighter_than_or() -> None:
    cond = _condition("inbound or outbound and from meeting")
    assert isinstance(cond, ast.AnyOf)
    first, second = cond.items
    assert isinstance(first, ast.IsDirection)
    assert isinstance(second, ast.AllOf)
    assert [type(c) for c in second.items] == [ast.IsDirection, ast.FromContext]


def test_parentheses_group() -> None:
    cond = _condition("(inbound or outbound) and from meeting")
    assert isinstance(cond, ast.AllOf)
    assert isinstance(cond.items[0], ast.AnyOf)
    negated = _condition("not (inbound and from user)")
    assert isinstance(negated, ast.Not) and isinstance(negated.item, ast.AllOf)


def test_not_binds_tighter_than_and() -> None:
    cond = _condition("not inbound and from user")
    assert isinstance(cond, ast.AllOf)
    assert isinstance(cond.items[0], ast.Not)
    assert isinstance(cond.items[1], ast.FromContext)


def test_flat_chains() -> None:
    cond = _condition("inbound and outbound and from user and from meeting")
    assert isinstance(cond, ast.AllOf) and len(cond.items) == 4
    cond = _condition("inbound or outbound or from user")
    assert isinstance(cond, ast.AnyOf) and len(cond.items) == 3


def test_outcomes() -> None:
    assert isinstance(_outcome("then free"), ast.PayFree)
    assert _outcome("then conferencing").paid_by == "conferencing"
    assert _outcome("then plan").paid_by == "plan"
    pool = _outcome("then pool domestic")
    assert isinstance(pool, ast.PayPool) and pool.pool.value == "domestic" and pool.spill is None
    spill = _outcome("then pool domestic, spill over to credits of tenant")
    assert isinstance(spill, ast.PayPool) and spill.spill == "tenant"
    for payer in ("user", "organizer", "tenant"):
        credits = _outcome(f"then credits of {payer}")
        assert credits == ast.PayCredits(payer, credits.span)
    deny = _outcome("deny number_not_supported")
    assert isinstance(deny, ast.PayDeny) and deny.denial.value == "number_not_supported"


def test_guards_in_order() -> None:
    stmt = _one(
        'scenario s "S":\n'
        "    when outbound\n"
        "    deny no_calling_plan unless user has calling plan\n"
        "    deny number_not_supported if to is premium_rate\n"
        "    then credits of user\n"
    )
    assert isinstance(stmt, ast.Scenario)
    unless, if_ = stmt.guards
    assert (unless.denial.value, unless.unless) == ("no_calling_plan", True)
    assert isinstance(unless.condition, ast.HasCallingPlan)
    assert unless.span == ast.Span("t.ccp", 3, 5)
    assert (if_.denial.value, if_.unless) == ("number_not_supported", False)
    assert isinstance(if_.condition, ast.ToIs)
    assert isinstance(stmt.outcome, ast.PayCredits)
    assert stmt.outcome.span == ast.Span("t.ccp", 5, 5)


def test_comments_and_layout_are_insignificant() -> None:
    compact = parse('zone z = US CA scenario s "S": when inbound then free', "a.ccp")
    spread = parse(
        '# head\nzone z =\n  US   # first\n  CA\n\nscenario s "S" :\n when\n'
        " inbound\n then free # tail\n",
        "a.ccp",
    )
    assert [type(s) for s in compact.statements] == [ast.Zone, ast.Scenario]
    assert [type(s) for s in spread.statements] == [ast.Zone, ast.Scenario]
    assert [c.value for c in spread.statements[0].countries] == ["US", "CA"]
    assert spread.statements[1].condition.span.line == 8


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


def test_missing_colon_after_scenario_sentence() -> None:
    err = _syntax_error('role r\nscenario s "A sentence"\n    when inbound\n    then free\n')
    finding = err.finding
    assert finding.code == "syntax"
    assert finding.location is not None
    assert (finding.location.file, finding.location.line, finding.location.column) == (
        "t.ccp",
        3,
        5,
    )
    assert finding.message == "unexpected 'when'; expected ':'"
    assert str(err) == "t.ccp:3:5: error: unexpected 'when'; expected ':'"


def test_lower_case_country_code() -> None:
    err = _syntax_error("zone z = US ca\n")
    assert str(err.finding.location) == "t.ccp:1:13"
    assert "unexpected 'ca'" in err.message
    assert err.finding.hint == "country codes are upper case: CA"


def test_lower_case_pooled_with() -> None:
    err = _syntax_error("domestic area a = US CA, CA pooled with us\n")
    assert str(err.finding.location) == "t.ccp:1:41"
    assert err.message == "unexpected 'us'; expected a country code such as US"
    assert err.finding.hint == "country codes are upper case: US"


def test_single_quoted_string_location() -> None:
    err = _syntax_error("role r\ndenial nope 'Not today.'\n")
    assert str(err.finding.location) == "t.ccp:2:13"
    assert "unexpected" in err.message
    assert 'a "quoted sentence"' in err.message


def test_single_quoted_string_hints_double_quotes() -> None:
    err = _syntax_error("role r\ndenial nope 'Not today.'\n")
    assert err.finding.hint is not None
    assert "double quotes" in err.finding.hint


@pytest.mark.parametrize("text", ["zone z = US @\n", "role Billing\n", "é\n"])
def test_unrelated_characters_do_not_hint_double_quotes(text: str) -> None:
    err = _syntax_error(text)
    assert err.finding.hint is None or "double quotes" not in err.finding.hint


def test_upper_case_name_hint() -> None:
    err = _syntax_error("role BA\n")
    assert str(err.finding.location) == "t.ccp:1:6"
    assert err.message == "unexpected 'BA'; expected a name"
    assert err.finding.hint == "names are lower_snake_case; country codes are upper case"


def test_unknown_statement_keyword() -> None:
    err = _syntax_error("zone z = US\n\nrule r\n")
    assert str(err.finding.location) == "t.ccp:3:1"
    assert err.message.startswith("unexpected 'rule'")
    assert err.finding.hint is not None
    assert err.finding.hint.startswith("a statement starts with one of:")
    for keyword in ("zone", "domestic area", "credits licence", "plan", "scenario", "notify"):
        assert keyword in err.finding.hint


def test_unexpected_end_of_file() -> None:
    err = _syntax_error('scenario s "S":\n    when inbound\n')
    assert str(err.finding.location) == "t.ccp:2:17"
    assert err.message.startswith("unexpected the end of the file; expected ")
    assert "'then'" in err.message and "'deny'" in err.message


def test_unexpected_end_of_file_in_plan() -> None:
    err = _syntax_error("plan p {\n")
    assert str(err.finding.location) == "t.ccp:1:9"
    assert err.message == "unexpected the end of the file; expected 'pool', '}'"


def test_unexpected_token_lists_expected_words() -> None:
    err = _syntax_error("zone z US\n")
    assert str(err.finding.location) == "t.ccp:1:8"
    assert err.message == "unexpected 'US'; expected '=', a \"quoted sentence\""


def test_missing_outcome() -> None:
    err = _syntax_error('scenario s "S": when inbound\nrole r\n')
    assert str(err.finding.location) == "t.ccp:2:1"
    assert "unexpected 'role'" in err.message
    assert "'then'" in err.message


def test_rendered_error_shows_source_line_and_caret() -> None:
    err = _syntax_error('role r\nscenario s "A sentence"\n    when inbound\n    then free\n')
    assert err.render().splitlines() == [
        "t.ccp:3:5: error: unexpected 'when'; expected ':'",
        "        when inbound",
        "        ^",
    ]


def test_rendered_error_with_hint() -> None:
    rendered = _syntax_error("zone z = US ca\n").render().splitlines()
    assert rendered[0] == "t.ccp:1:13: error: unexpected 'ca'"
    assert rendered[1] == "    zone z = US ca"
    assert rendered[2].index("^") == rendered[1].index("ca")
    assert rendered[3] == "    hint: country codes are upper case: CA"


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
