"""policy.language.check and policy.tools.analysis: a test per semantic finding; the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy
from policy.language.check import check_modules
from policy.language.parser import parse
from policy.pipeline import load_policy, policy_findings
from policy.support.errors import CheckError, Finding, PolicySyntaxError
from policy.support.resources import rules_dir
from policy.tools.analysis import analysis_findings

# A small policy with no findings at all; each test adds (or changes) one thing.
BASE = """\
credits licence cc
licence lic
role r
notify balance_zero to r
zone z = US CA
denial nope "Not this one."
plan p { pool d: 100 minutes per user in z, 10 elsewhere }
scenario a "A": when destination in z then pool d, spill over to credits of user
scenario b "B": when outbound and to is premium_rate deny nope
scenario c "C": when outbound then credits of user
scenario i "I": when inbound then free
"""


def _findings(*texts: str) -> list[Finding]:
    """Findings of BASE-free modules m0.ccp, m1.ccp, … (give BASE yourself when needed)."""
    modules = [parse(text, f"m{i}.ccp") for i, text in enumerate(texts)]
    _, found = check_modules(modules)
    return found


def _only(found: list[Finding], severity: str = "error") -> Finding:
    matching = [f for f in found if f.severity == severity]
    assert len(matching) == 1, [f.headline() for f in found]
    return matching[0]


def _place(finding: Finding) -> str:
    assert finding.location is not None
    return str(finding.location)


def test_base_policy_is_clean() -> None:
    assert _findings(BASE) == []


# ---- unknown names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message", "column", "hint"),
    [
        (
            'scenario s "S": when destination in zz then free\n',
            "unknown zone or domestic area 'zz'",
            37,
            "did you mean 'z'?",
        ),
        (
            'scenario s "S": when caller in zz then free\n',
            "unknown zone or domestic area 'zz'",
            32,
            "did you mean 'z'?",
        ),
        (
            'scenario s "S": when user has lics then free\n',
            "unknown licence 'lics'",
            31,
            "did you mean 'lic'?",
        ),
        (
            'scenario s "S": when user\'s plan is pp then free\n',
            "unknown plan 'pp'",
            37,
            "did you mean 'p'?",
        ),
        (
            'scenario s "S": when outbound then pool dd\n',
            "unknown pool 'dd'",
            41,
            "did you mean 'd'?",
        ),
        (
            'scenario s "S": when pool dd has minutes left then free\n',
            "unknown pool 'dd'",
            27,
            "did you mean 'd'?",
        ),
        ("notify balance_zero to rr\n", "unknown role 'rr'", 24, "did you mean 'r'?"),
        (
            "notify balance_zeroo to r\n",
            "unknown event 'balance_zeroo'",
            8,
            "did you mean 'balance_zero'?",
        ),
        (
            'scenario s "S": when outbound deny nope_\n',
            "unknown denial 'nope_'",
            36,
            "did you mean 'nope'?",
        ),
        (
            'scenario s "S": when outbound deny no_credits_licence unless user has lic then free\n',
            "unknown denial 'no_credits_licence'",
            36,
            "did you mean 'no_credits_license'?",
        ),
        (
            'scenario s "S": when from meetng then free\n',
            "unknown call context 'meetng'",
            27,
            "did you mean 'meeting'?",
        ),
        (
            'scenario s "S": when to is tollfree then free\n',
            "unknown number class 'tollfree'",
            28,
            "did you mean 'toll_free'?",
        ),
        (
            'scenario s "S": when destination is domestik then free\n',
            "unknown destination kind 'domestik'",
            37,
            "did you mean 'domestic'?",
        ),
        (
            "conferencing pool zp: 60 minutes per lics licence\n",
            "unknown licence 'lics'",
            38,
            "did you mean 'lic'?",
        ),
        (
            "plan q { pool x: 1 minutes per user in zz, 3 elsewhere }\n",
            "unknown zone or domestic area 'zz'",
            40,
            "did you mean 'z'?",
        ),
    ],
)
def test_unknown_name_with_did_you_mean(extra: str, message: str, column: int, hint: str) -> None:
    finding = _only(_findings(BASE, extra))
    assert finding.message == f"{message} ({hint})"  # SPEC: the suggestion is in the message
    assert finding.code == "unknown-name"
    assert _place(finding) == f"m1.ccp:1:{column}"
    assert finding.hint is None
    assert finding.source_line == extra.rstrip("\n")


def test_unknown_name_without_close_match_lists_the_known_names() -> None:
    finding = _only(_findings(BASE, 'scenario s "S": when from xyzzy then free\n'))
    assert finding.message == "unknown call context 'xyzzy'"
    assert finding.hint == "known: user, meeting, auto_attendant, call_queue"


def test_destination_is_a_zone_suggests_destination_in() -> None:
    finding = _only(_findings(BASE, 'scenario s "S": when destination is z then free\n'))
    assert finding.message == (
        "unknown destination kind 'z' (to test membership write 'destination in z')"
    )
    assert finding.hint == "known: domestic, international, non_geographic"


@pytest.mark.parametrize(
    ("extra", "code", "column"),
    [
        ("zone q = US XX\n", "XX", 13),
        ('scenario s "S": when caller in US QQ then free\n', "QQ", 35),
        ('scenario s "S": when destination not in ZZ then free\n', "ZZ", 41),
        ("domestic area q = DE FR, FR pooled with DE\nzone w = DE XY\n", "XY", 13),
    ],
)
def test_unknown_country_code(extra: str, code: str, column: int) -> None:
    found = _findings(BASE, extra)
    errors = [f for f in found if f.is_error]
    assert [f.message for f in errors] == [f"unknown country code '{code}'"]
    assert errors[0].code == "unknown-name"
    assert _place(errors[0]).endswith(f":{column}")


def _misspelt_role_policy(tmp_path: Path) -> Path:
    catalog = (rules_dir() / "catalog.ccp").read_text(encoding="utf-8")
    (tmp_path / "catalog.ccp").write_text(catalog, encoding="utf-8")
    (tmp_path / "teams.ccp").write_text(
        "# extra routing\n\nnotify balance_zero to teams_admin,\n      biling_admin\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_bundled_names_are_suggested(tmp_path: Path) -> None:
    """The SPEC example: a misspelt role in a policy built on the bundled catalogue."""
    compiled, found = policy_findings(_misspelt_role_policy(tmp_path))
    assert compiled is None
    errors = [f for f in found if f.is_error]
    assert len(errors) == 1
    assert (
        errors[0]
        .headline()
        .endswith(
            "teams.ccp:4:7: error: unknown role 'biling_admin' (did you mean 'billing_admin'?)"
        )
    )
    rendered = errors[0].render().splitlines()
    assert rendered[1:] == ["          biling_admin", "          ^"]


def test_did_you_mean_is_part_of_the_headline_as_in_spec(tmp_path: Path) -> None:
    _, found = policy_findings(_misspelt_role_policy(tmp_path))
    (error,) = [f for f in found if f.is_error]
    assert error.headline().endswith(
        "teams.ccp:4:7: error: unknown role 'biling_admin' (did you mean 'billing_admin'?)"
    )


# ---- duplicates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message", "column", "first"),
    [
        ("zone z = DE\n", "duplicate zone 'z'", 6, "m0.ccp:5"),
        ("domestic area z = DE\n", "duplicate domestic area 'z'", 15, "m0.ccp:5"),
        ("licence lic\n", "duplicate licence 'lic'", 9, "m0.ccp:2"),
        ("credits licence cc\n", "duplicate licence 'cc'", 17, "m0.ccp:1"),
        ("plan lic { }\n", "duplicate plan 'lic'", 6, "m0.ccp:2"),
        ("plan p { }\n", "duplicate plan 'p'", 6, "m0.ccp:7"),
        ("role r\n", "duplicate role 'r'", 6, "m0.ccp:3"),
        ('denial nope "Again."\n', "duplicate denial 'nope'", 8, "m0.ccp:6"),
        ('scenario a "Again": when inbound then free\n', "duplicate scenario 'a'", 10, "m0.ccp:8"),
    ],
)
def test_duplicate_names_say_where_first_declared(
    extra: str, message: str, column: int, first: str
) -> None:
    finding = _only(_findings(BASE, extra))
    assert finding.message == message
    assert finding.code == "duplicate"
    assert _place(finding) == f"m1.ccp:1:{column}"
    assert finding.hint == f"first declared at {first}"


def test_duplicate_conferencing_pool() -> None:
    found = _findings(
        BASE,
        "conferencing pool zp: 60 minutes per lic licence\n"
        "conferencing pool zp: 30 minutes per lic licence\n",
    )
    finding = _only(found)
    assert finding.message == "duplicate pool 'zp'"
    assert _place(finding) == "m1.ccp:2:19"
    assert finding.hint == "first declared at m1.ccp:1"


def test_duplicate_within_one_file() -> None:
    finding = _only(_findings(BASE + "role r\n"))
    assert finding.message == "duplicate role 'r'"
    assert _place(finding) == "m0.ccp:12:6"
    assert finding.hint == "first declared at m0.ccp:3"


def test_plan_declares_a_pool_twice() -> None:
    finding = _only(
        _findings(BASE, "plan q { pool x: 1 minutes per user pool x: 2 minutes per user }\n")
    )
    assert finding.message == "plan 'q' declares pool 'x' twice"
    assert finding.code == "duplicate"
    assert _place(finding) == "m1.ccp:1:42"


def test_plan_pool_named_like_a_conferencing_pool() -> None:
    finding = _only(_findings(BASE, "conferencing pool d: 60 minutes per lic licence\n"))
    assert finding.message == "pool name 'd' is also a conferencing pool"
    assert _place(finding) == "m0.ccp:7:15"
    assert finding.hint == "give plan pools and conferencing pools different names"


def test_two_default_allowances() -> None:
    finding = _only(_findings(BASE, "plan q { pool x: 1 minutes per user, 2 elsewhere }\n"))
    assert finding.message == "more than one default allowance ('elsewhere')"
    assert _place(finding) == "m1.ccp:1:38"


def test_two_allowances_for_one_region() -> None:
    finding = _only(
        _findings(
            BASE,
            "plan q { pool x: 1 minutes per user in z, 2 minutes per user in z, 3 elsewhere }\n",
        )
    )
    assert finding.message == "'z' has two allowances"
    assert finding.code == "duplicate"


def test_country_listed_twice_is_a_warning() -> None:
    found = _findings(BASE, 'zone t = DE FR DE\nscenario s "S": when destination in t then free\n')
    assert not [f for f in found if f.is_error]
    warning = _only(found, "warning")
    assert warning.message == "'DE' is listed twice"
    assert _place(warning) == "m1.ccp:1:16"


def test_country_in_two_domestic_areas() -> None:
    finding = _only(_findings(BASE, "domestic area na = US PR\ndomestic area nb = PR CA\n"))
    assert finding.message == "'PR' is already in domestic area 'na'"
    assert finding.code == "duplicate"
    assert _place(finding) == "m1.ccp:2:20"
    assert finding.hint == "a country can belong to one domestic area only"


# ---- subjects, credits, pooling, thresholds --------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "column"),
    [
        ('scenario o "O": when organizer has lic then free\n', 22),
        ('scenario o "O": when organizer\'s plan is p then free\n', 22),
        ('scenario o "O": when organizer has no calling plan then free\n', 22),
        ('scenario o "O": when outbound then credits of organizer\n', 31),
        (
            'scenario o "O": when destination in z then pool d, spill over to credits of '
            "organizer\n",
            39,
        ),
        ('scenario o "O": when from meeting or organizer has lic then free\n', 38),
        ('scenario o "O": when outbound deny nope unless organizer has lic then free\n', 48),
    ],
)
def test_organizer_without_from_meeting(extra: str, column: int) -> None:
    finding = _only(_findings(BASE, extra))
    assert finding.message == "'organizer' is known only for meeting calls"
    assert finding.code == "type"
    assert _place(finding) == f"m1.ccp:1:{column}"
    assert finding.hint == "add 'from meeting' to the scenario's condition"


def test_organizer_inside_meeting_scenario_is_fine() -> None:
    assert (
        _findings(
            BASE,
            'scenario o "O": when from meeting and organizer has lic\n'
            "    deny nope unless organizer has calling plan\n"
            "    then credits of organizer\n",
        )
        == []
    )


def test_two_credits_licences() -> None:
    finding = _only(_findings(BASE, "credits licence cc2\n"))
    assert finding.message == "only one licence can be the credits licence"
    assert finding.code == "duplicate"
    assert _place(finding) == "m1.ccp:1:1"
    assert finding.hint == "'cc' is already"


def test_no_credits_licence_while_user_credits_are_charged() -> None:
    finding = _only(_findings(BASE.replace("credits licence cc\n", "")))
    assert finding.message == (
        "this scenario charges a user's credits but no 'credits licence' is declared"
    )
    # the first scenario that charges a user: 'a' spills over to the user's credits
    assert _place(finding) == "m0.ccp:7:39"
    assert finding.hint == "declare e.g. 'credits licence communications_credits'"


def test_tenant_credits_need_no_credits_licence() -> None:
    text = BASE.replace("credits licence cc\n", "").replace("of user", "of tenant")
    assert _findings(text) == []


def test_pooling_with_a_country_outside_the_area() -> None:
    found = _findings(
        BASE,
        "domestic area na = US PR, PR pooled with CA\n"
        'scenario n "N": when destination in na then free\n',
    )
    finding = _only(found)
    assert finding.message == "'CA' is not one of the area's countries"
    assert finding.code == "type"
    assert _place(finding) == "m1.ccp:1:42"
    assert finding.hint == "pooling joins countries of the same domestic area"


def test_pooled_country_outside_the_area() -> None:
    finding = _only(_findings(BASE, "domestic area na = US PR, CA pooled with US\n"))
    assert finding.message == "'CA' is not one of the area's countries"
    assert _place(finding) == "m1.ccp:1:27"


def test_pooling_with_an_unknown_country() -> None:
    found = _findings(BASE, "domestic area na = US PR, PR pooled with QQ\n")
    messages = sorted(f.message for f in found if f.is_error)
    assert messages == ["'QQ' is not one of the area's countries", "unknown country code 'QQ'"]


@pytest.mark.parametrize(
    ("option", "messages"),
    [
        ("warn at 0%", ["warning threshold 0% is outside 1%..100%"]),
        ("warn at 50%, 120%", ["warning threshold 120% is outside 1%..100%"]),
        (
            "warn at 0%, 101%",
            [
                "warning threshold 0% is outside 1%..100%",
                "warning threshold 101% is outside 1%..100%",
            ],
        ),
        ("warn at 90%, 80%", ["warning thresholds must rise and not repeat"]),
        ("warn at 80%, 80%", ["warning thresholds must rise and not repeat"]),
    ],
)
def test_warn_thresholds(option: str, messages: list[str]) -> None:
    plan_found = _findings(BASE, f"plan q {{ pool x: 1 minutes per user, {option} }}\n")
    assert [f.message for f in plan_found] == messages
    assert all(f.code == "type" and _place(f) == "m1.ccp:1:10" for f in plan_found)
    shared_found = _findings(BASE, f"conferencing pool zp: 60 minutes per lic licence, {option}\n")
    assert [f.message for f in shared_found] == messages
    assert all(_place(f) == "m1.ccp:1:1" for f in shared_found)


def test_rising_thresholds_are_fine() -> None:
    assert (
        _findings(BASE, "conferencing pool zp: 60 minutes per lic licence, warn at 1%, 50%, 100%\n")
        == []
    )


def test_pool_without_default_allowance_is_a_coverage_warning() -> None:
    found = _findings(BASE, "plan q { pool x: 1 minutes per user in z }\n")
    warning = _only(found, "warning")
    assert warning.message == "pool 'x' gives no minutes outside z"
    assert warning.code == "coverage"
    assert not [f for f in found if f.is_error]


# ---- unused declarations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message", "column"),
    [
        ("zone lonely = DE\n", "zone 'lonely' is never used", 6),
        ('denial never "Never said."\n', "denial 'never' is never used", 8),
        ("role lonely\n", "role 'lonely' is never notified", 6),
    ],
)
def test_unused_declarations_are_warnings(extra: str, message: str, column: int) -> None:
    found = _findings(BASE, extra)
    warning = _only(found, "warning")
    assert not [f for f in found if f.is_error]
    assert warning.message == message
    assert warning.code == "unused"
    assert _place(warning) == f"m1.ccp:1:{column}"


def test_zone_used_only_by_an_allowance_is_used() -> None:
    text = BASE.replace("zone z = US CA\n", "zone z = US CA\nzone y = DE\n").replace(
        "in z, 10 elsewhere", "in z, 5 minutes per user in y, 10 elsewhere"
    )
    assert _findings(text) == []


def test_redeclared_builtin_denial_is_not_unused() -> None:
    assert _findings(BASE, 'denial balance_exhausted "No money left."\n') == []


def test_findings_are_sorted_by_file_and_place() -> None:
    found = _findings(BASE, "role lonely\nnotify balance_zero to rr\nzone q = US XX\n")
    places = [(f.location.file, f.location.line, f.location.column) for f in found if f.location]
    assert places == sorted(places)
    assert len(found) == 4  # lonely, rr, XX and the unused zone q


# ---- the pipeline ----------------------------------------------------------------------------


def _policy_dir(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.ccp").write_text(text, encoding="utf-8")
    return tmp_path


def test_load_raises_check_error_on_the_first_error(tmp_path: Path) -> None:
    folder = _policy_dir(
        tmp_path, a=BASE, b="notify balance_zero to rr\nrole lonely\nzone q = US XX\n"
    )
    with pytest.raises(CheckError) as info:
        policy.load(folder)
    err = info.value
    assert err.finding.message == "unknown role 'rr' (did you mean 'r'?)"
    assert err.finding.code == "unknown-name"
    assert err.finding.location is not None
    assert err.finding.location.file.endswith("b.ccp")
    assert (err.finding.location.line, err.finding.location.column) == (1, 24)
    # every error travels with it (the warning about 'lonely' does not)
    assert [f.message for f in err.findings] == [
        "unknown role 'rr' (did you mean 'r'?)",
        "unknown country code 'XX'",
    ]
    assert err.exit_code == 1
    assert "did you mean 'r'?" in err.render()


def test_load_policy_raises_syntax_error(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, a=BASE, b="zone q = us\n")
    with pytest.raises(PolicySyntaxError) as info:
        load_policy(folder)
    assert info.value.finding.code == "syntax"
    assert str(info.value.finding.location).endswith("b.ccp:1:10")


def test_policy_findings_returns_every_error_and_no_policy(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, a=BASE, b="notify balance_zero to rr\nrole lonely\n")
    compiled, found = policy_findings(folder)
    assert compiled is None
    assert sorted((f.severity, f.message) for f in found) == [
        ("error", "unknown role 'rr' (did you mean 'r'?)"),
        ("warning", "role 'lonely' is never notified"),
    ]


def test_policy_findings_one_syntax_error_per_file(tmp_path: Path) -> None:
    folder = _policy_dir(tmp_path, a="zone q = us\nrole R\n", b="role\n", c=BASE)
    compiled, found = policy_findings(folder)
    assert compiled is None
    assert [f.code for f in found] == ["syntax", "syntax"]
    assert [Path(f.location.file).name for f in found if f.location] == ["a.ccp", "b.ccp"]


def test_warnings_do_not_stop_compilation(tmp_path: Path) -> None:
    compiled, found = policy_findings(_policy_dir(tmp_path, a=BASE + "role lonely\n"))
    assert compiled is not None
    assert [f.severity for f in found] == ["warning"]


# ---- analysis --------------------------------------------------------------------------------


def _analysis(tmp_path: Path, text: str) -> list[Finding]:
    compiled, found = policy_findings(_policy_dir(tmp_path, p=text))
    assert compiled is not None, [f.headline() for f in found]
    return analysis_findings(compiled)


def test_base_policy_has_no_gap_and_no_shadow(tmp_path: Path) -> None:
    assert _analysis(tmp_path, BASE) == []


def test_planted_gap_is_reported(tmp_path: Path) -> None:
    text = BASE.replace('scenario i "I": when inbound then free\n', "")
    (gap,) = _analysis(tmp_path, text)
    assert gap.severity == "warning"
    assert gap.code == "gap"
    assert "decided by no scenario" in gap.message
    assert "inbound call" in gap.message
    assert "outbound call" not in gap.message
    assert gap.location is not None and gap.location.file.endswith("p.ccp")
    assert gap.hint == "add a scenario for them, or a final catch-all"


def test_planted_shadowed_scenario_is_reported(tmp_path: Path) -> None:
    text = BASE + 'scenario late "Late": when outbound and destination in z then free\n'
    (shadow,) = _analysis(tmp_path, text)
    assert shadow.severity == "warning"
    assert shadow.code == "unreachable"
    assert shadow.message == (
        "scenario 'late' can never decide a call: every call it matches is decided earlier"
    )
    assert shadow.location is not None
    assert (Path(shadow.location.file).name, shadow.location.line, shadow.location.column) == (
        "p.ccp",
        12,
        10,
    )
    assert shadow.hint is not None
    assert shadow.hint.startswith("shadowed by 'a' at ")
    assert f"{shadow.location.file}:8;" in shadow.hint


def test_contradictory_scenario_matches_nothing(tmp_path: Path) -> None:
    text = BASE + 'scenario never "Never": when inbound and outbound then free\n'
    (finding,) = _analysis(tmp_path, text)
    assert finding.code == "unreachable"
    assert finding.message == "scenario 'never' matches no call at all"
    assert finding.hint == "its condition contradicts itself"


def test_bundled_rules_have_no_findings() -> None:
    compiled, found = policy_findings(rules_dir())
    assert found == []
    assert compiled is not None
    assert analysis_findings(compiled) == []
    assert [s.name for s in compiled.scenarios][:2] == ["emergency", "other_short_code"]


def test_finding_source_line_after_a_form_feed() -> None:
    finding = _only(_findings(BASE, "# page one\x0cpage two\nnotify balance_zero to rr\n"))
    assert _place(finding) == "m1.ccp:2:24"
    assert finding.source_line == "notify balance_zero to rr"
