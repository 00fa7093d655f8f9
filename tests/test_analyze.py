"""``ccpolicy analyze``: the decision table, planted gaps, shadowed and unreachable rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy.cli import main
from policy.pipeline import load_policy
from policy.tools.analysis import analysis_findings, analyze, decision_table

HEAD = """\
licence teams_phone "Teams Phone"
credits licence communications_credits "Communications Credits"
plan calling_plan "Calling Plan" {
    pool domestic: 100 minutes per user
}
role billing_admin "Billing"
notify recharge_succeeded, recharge_failed, balance_zero to billing_admin

scenario emergency "Emergency is free":
    when outbound and to is emergency
    then free

scenario inbound_call "Incoming calls are free":
    when inbound
    then free
"""

COMPLETE = (
    HEAD
    + """
scenario everything_else "Everything else is paid from credits":
    when outbound
    then credits of tenant
"""
)

# planted gap: outbound calls from meetings are decided by nobody
GAP = (
    HEAD
    + """
scenario users "Users pay from credits":
    when outbound and (from user or from auto_attendant or from call_queue)
    then credits of tenant
"""
)

# planted shadow: 'domestic_users' comes after the broader 'everything_else'
SHADOW = (
    COMPLETE
    + """
scenario domestic_users "Never decides anything":
    when outbound and from user and destination is domestic
    then pool domestic, spill over to credits of user
"""
)

# planted contradiction: no situation is both inbound and outbound
DEAD = (
    COMPLETE
    + """
scenario impossible "Cannot happen":
    when inbound and outbound
    then free
"""
)


def _policy(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "policy.ccp").write_text(text, encoding="utf-8")
    return folder


def _analyze(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["analyze", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_bundled_rules_are_clean_under_strict(capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _analyze(capsys, "bundled", "--strict")
    assert code == 0
    summary = report["summary"]
    assert (summary["gaps"], summary["shadowed"], summary["unreachable"]) == (0, 0, 0)
    assert summary["ok"] is True
    assert summary["scenarios"] == 19
    decided = {row["scenario"] for row in report["rows"]}
    assert len(decided) == 19  # every scenario decides some situation
    assert sum(row["situations"] for row in report["rows"]) == summary["situations"]


def test_rows_describe_the_conditions_they_cover(capsys: pytest.CaptureFixture[str]) -> None:
    _, report = _analyze(capsys, "bundled")
    rows = {row["scenario"]: row for row in report["rows"]}
    assert rows["emergency"]["outcome"] == "then free"
    assert "direction=outbound" in rows["emergency"]["when"]
    assert "to=emergency" in rows["emergency"]["when"]
    zone_a = rows["conference_zone_a"]
    assert zone_a["outcome"] == "then pool zone_a, spill over to credits of organizer"
    assert "context=meeting" in zone_a["when"]
    assert "destination in zone_a" in zone_a["when"]
    assert "has audio_conferencing" in zone_a["when"]
    assert "context=meeting" not in rows["domestic_call"]["when"]
    assert "plan=none" in rows["no_calling_plan"]["when"]


def test_planted_gap_is_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _policy(tmp_path, GAP)
    code, report = _analyze(capsys, str(folder), "--strict")
    assert code == 1
    gaps = report["gaps"]
    assert gaps["situations"] > 0
    # every gap is an outbound meeting dial-out (the emergency scenario still decides those)
    assert {(g["direction"], g["context"]) for g in gaps["groups"]} == {("outbound", "meeting")}
    assert all("to=emergency" not in g["when"] for g in gaps["groups"])
    assert report["shadowed"] == [] and report["unreachable"] == []
    # without --strict the same findings do not fail
    assert main(["analyze", str(folder)]) == 0
    text = capsys.readouterr().out
    assert "Gaps: " in text and "outbound from meeting" in text


def test_planted_shadowed_rule_is_found(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _policy(tmp_path, SHADOW)
    code, report = _analyze(capsys, str(folder), "--strict")
    assert code == 1
    assert report["gaps"]["situations"] == 0
    [shadowed] = report["shadowed"]
    assert shadowed["scenario"] == "domestic_users"
    assert (
        shadowed["line"]
        == SHADOW.splitlines().index('scenario domestic_users "Never decides anything":') + 1
    )
    by = {b["scenario"]: b["situations"] for b in shadowed["by"]}
    assert set(by) == {"emergency", "everything_else"}
    assert sum(by.values()) == shadowed["situations"]
    assert "context=user" in shadowed["when"] and "destination=domestic" in shadowed["when"]
    # a shadowed rule is reported as shadowed, not as an overlap as well
    assert all(o["scenario"] != "domestic_users" for o in report["overlaps"])


def test_planted_contradiction_is_unreachable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _policy(tmp_path, DEAD)
    code, report = _analyze(capsys, str(folder), "--strict")
    assert code == 1
    assert [u["scenario"] for u in report["unreachable"]] == ["impossible"]
    assert report["shadowed"] == []


def test_complete_small_policy_passes_strict_and_lists_overlaps(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = _policy(tmp_path, COMPLETE)
    code, report = _analyze(capsys, str(folder), "--strict")
    assert code == 0
    [overlap] = report["overlaps"]  # outbound emergency calls match everything_else too
    assert overlap["scenario"] == "everything_else"
    assert overlap["earlier"]["scenario"] == "emergency"
    assert "to=emergency" in overlap["when"]


def test_text_report(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _policy(tmp_path, SHADOW)
    assert main(["analyze", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Decision table of " in out
    assert "Shadowed scenarios (never decide a call):" in out
    assert "domestic_users (" in out and "decided earlier by emergency" in out
    assert out.rstrip().endswith("problems found")


def test_policy_errors_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = _policy(tmp_path, HEAD.replace("then free", "then freee", 1))
    assert main(["analyze", str(folder)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "policy.ccp:" in captured.err


def test_table_agrees_with_the_analysis_check_uses(tmp_path: Path) -> None:
    compiled = load_policy(_policy(tmp_path, SHADOW))
    table = decision_table(compiled)
    plain = analyze(compiled)
    assert table.analysis.situations == plain.situations
    assert table.analysis.first_match == plain.first_match
    assert table.analysis.matched == plain.matched
    assert [s.name for s in table.shadowed(compiled)] == ["domestic_users"]
    codes = [f.code for f in analysis_findings(compiled, table.analysis)]
    assert codes == ["unreachable"]
