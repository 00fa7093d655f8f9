"""policy.language.check and policy.tools.analysis: the pipeline, analysis, finding behaviour.

Each semantic finding of the checker, with its message, place, hint and code, is a fixture
in ``tests/language/check/`` (run by ``tests/test_language_fixtures.py``; BASE below is
``check/base.ccp`` there)."""

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


# ---- unknown names ---------------------------------------------------------------------------


def _misspelt_role_policy(tmp_path: Path) -> Path:
    catalog = (rules_dir() / "catalog.ccp").read_text(encoding="utf-8")
    (tmp_path / "catalog.ccp").write_text(catalog, encoding="utf-8")
    (tmp_path / "teams.ccp").write_text(
        "# extra routing\n\nnotify balance_zero to teams_admin,\n      biling_admin\n",
        encoding="utf-8",
    )
    return tmp_path


def test_the_bundled_names_are_suggested(tmp_path: Path) -> None:
    """The reference's example: a misspelt role in a policy built on the bundled catalogue."""
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


# ---- subjects, credits, pooling, thresholds --------------------------------------------------


# ---- unused declarations ---------------------------------------------------------------------


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
