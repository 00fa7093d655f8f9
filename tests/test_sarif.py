"""``ccpolicy check --format sarif``: SARIF 2.1.0, validated against the published schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from policy import __version__
from policy.cli import main
from policy.support.errors import Finding, Location
from policy.tools.sarif import to_sarif

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

BROKEN = """\
licence teams_phone "Teams Phone"
credits licence communications_credits "Communications Credits"
role billing_admin "Billing"
notify recharge_succeeded to billing_admin

scenario inbound_call "Incoming calls are free":
    when inbound and from usr
    then free
"""


def _validate(log: Any) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(log)


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["check", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "policy.ccp").write_text(BROKEN, encoding="utf-8")
    return folder


def test_schema_rejects_what_it_should() -> None:
    """The validator is live: a wrong level and a missing message are refused."""
    log = to_sarif([Finding("error", "boom", location=Location("a.ccp", 1, 2), code="syntax")])
    _validate(log)
    bad = copy.deepcopy(log)
    bad["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad)
    bad = copy.deepcopy(log)
    del bad["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        _validate(bad)


def test_errors_carry_rule_level_and_region(
    capsys: pytest.CaptureFixture[str], broken: Path
) -> None:
    code, log = _check(capsys, str(broken), "--format", "sarif")
    assert code == 1
    _validate(log)
    assert log["version"] == "2.1.0"
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "ccpolicy"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    code, plain = _check(capsys, str(broken), "--format", "json")
    assert code == 1
    expected = [f for f in plain["findings"] if f["severity"] == "error"]
    results = log["runs"][0]["results"]
    errors = [r for r in results if r["level"] == "error"]
    assert len(errors) == len(expected) >= 1
    unknown = next(r for r in errors if r["ruleId"] == "unknown-name")
    finding = next(f for f in expected if f["code"] == "unknown-name")
    assert "usr" in unknown["message"]["text"]
    physical = unknown["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"].endswith("rules/policy.ccp")
    assert physical["region"]["startLine"] == finding["line"] == 7
    assert physical["region"]["startColumn"] == finding["column"]
    assert physical["region"]["snippet"]["text"].strip() == "when inbound and from usr"


def test_one_rule_per_code_with_a_description(
    capsys: pytest.CaptureFixture[str], broken: Path
) -> None:
    _, log = _check(capsys, str(broken), "--format", "sarif")
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert {r["ruleId"] for r in run["results"]} == set(ids)
    for result in run["results"]:
        rule = rules[result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert rule["shortDescription"]["text"]


def test_warnings_are_warning_level(capsys: pytest.CaptureFixture[str]) -> None:
    tenant = str(ROOT / "examples" / "tenant.yaml")
    code, log = _check(capsys, tenant, "--format", "sarif")
    assert code == 0  # warnings alone do not fail
    _validate(log)
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == ("unrouted-role", "warning")
    assert "reports_reader" in result["message"]["text"]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 16
    assert "startColumn" not in region  # data-file findings have a line, no column
    code, _ = _check(capsys, tenant, "--format", "sarif", "--strict")
    assert code == 1


def test_clean_policy_has_no_results(capsys: pytest.CaptureFixture[str]) -> None:
    code, log = _check(capsys, "--format", "sarif", "bundled")
    assert code == 0
    _validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []


def test_findings_without_a_place_have_no_location() -> None:
    log = to_sarif([Finding("warning", "somewhere", code="gap")])
    _validate(log)
    [result] = log["runs"][0]["results"]
    assert "locations" not in result
    assert result["level"] == "warning"
