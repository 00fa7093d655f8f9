"""``ccpolicy test``: policy test files, pytest-like output, JUnit/JSON, coverage."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml

from policy.cli import main
from policy.support.resources import rules_dir, schemas_dir
from policy.tools.testing import MISSING, FieldDiff, compare, matches

BUNDLED_TESTS = rules_dir() / "tests"

# A small policy whose coverage is known by hand (see test_small_policy_coverage_exact).
SMALL_POLICY = """\
licence teams_phone
credits licence credits
plan basic "Basic" {
    pool domestic: 10 minutes per user
}
role billing_admin
denial no_plan "The user has no plan."
notify balance_zero to billing_admin

scenario emergency "Emergency calls are free":
    when outbound and to is emergency
    then free

scenario domestic "Domestic calls use the plan's minutes":
    when outbound
         and destination is domestic
    deny no_plan unless user has basic
    then pool domestic, spill over to credits of user

scenario abroad "Other calls are paid from credits":
    when outbound
    then credits of user

scenario inbound "Incoming calls are free":
    when inbound
    then free
"""

SMALL_HEAD = """\
tenant:
  tenant: t
  country: US
  currency: USD
  credits: {balance: "1.00", funding: one_time}
  admins: [{email: ann@t.com, roles: [billing_admin]}]
  users:
    - {upn: ann@t.com, usage_location: US, licenses: [basic, credits]}
    - {upn: bob@t.com, usage_location: US, licenses: [teams_phone, credits]}
rates:
  - {prefix: "", rate: "0.60", rate_unit: 60, increment: 60}
tests:
"""

START = '"2026-11-02T09:00:00-05:00"'
SMALL_TESTS = f"""\
  - name: domestic
    calls:
      - {{id: d1, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}, duration: 60}}
    expect:
      - {{scenario: domestic, paid_by: plan, pool: "basic:US:domestic"}}
  - name: emergency
    calls:
      - {{id: e1, direction: outbound, user: ann@t.com, to: "911", start: {START}}}
    expect:
      - {{scenario: emergency, paid_by: free}}
  - name: no plan
    calls:
      - {{id: n1, direction: outbound, user: bob@t.com, to: "+12125550123", start: {START}, duration: 60}}
    expect:
      - {{scenario: domestic, denial: no_plan}}
  - name: abroad until zero
    calls:
      - {{id: a1, direction: outbound, user: ann@t.com, to: "+442071838750", start: {START}, duration: 60}}
      - {{id: a2, direction: outbound, user: ann@t.com, to: "+442071838750", start: {START}, duration: 60}}
    expect:
      - {{scenario: abroad, cost: "0.60", balance_after: "0.40"}}
      - {{cost: "0.6", balance_after: "-0.20", events: [{{type: balance_zero}}]}}
  - name: inbound
    calls:
      - {{id: i1, direction: inbound, from: "+12125550123", to: "+12125550999", start: {START}}}
    expect:
      - {{scenario: inbound, paid_by: free}}
"""  # noqa: E501


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A policy dir with its tests in tests/small_test.yaml (found as the nearest .ccp dir)."""
    (tmp_path / "policy.ccp").write_text(SMALL_POLICY, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "small_test.yaml").write_text(SMALL_HEAD + SMALL_TESTS, "utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_test(folder: Path, body: str, name: str = "x_test.yaml") -> Path:
    path = folder / "tests" / name
    path.write_text(SMALL_HEAD + textwrap.dedent(body), encoding="utf-8")
    return path


def outcome_sets(report: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(hit, missed, n/a) as "kind name=outcome" strings."""
    hit, missed, na = set(), set(), set()
    for policy in report["policies"]:
        for item in policy["items"]:
            for outcome, value in item["outcomes"].items():
                key = f"{item['kind']} {item['name']}={outcome}"
                (na if value is None else hit if value else missed).add(key)
    return hit, missed, na


# ---------------------------------------------------------------------------- bundled rules


def bundled_test_count() -> int:
    files = sorted(BUNDLED_TESTS.glob("*_test.yaml"))
    assert files, "the bundled rules ship test files"
    return sum(len(yaml.safe_load(f.read_text("utf-8"))["tests"]) for f in files)


def test_bundled_rules_pass_with_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bundled", "--coverage", "--threshold", "100")
    assert code == 0, out
    assert out.splitlines()[-1] == f"{bundled_test_count()} passed, 0 failed"
    assert "coverage: 100.0%" in out
    assert "MISSED" not in out


def test_bundled_coverage_covers_every_scenario_pool_and_route(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "bundled", "--coverage", "--format", "json")
    assert code == 0
    coverage = json.loads(out)["coverage"]
    assert coverage["percent"] == 100.0 and coverage["covered"] == coverage["total"]
    hit, missed, _ = outcome_sets(coverage)
    assert missed == set()
    kinds = {key.split()[0] for key in hit}
    assert kinds == {"scenario", "condition", "pool", "route"}  # the bundled rules have no guards
    assert "pool audio_conferencing:zone_a=drawn" in hit
    assert "route recharge_failed=emitted" in hit
    assert "scenario international_on_domestic_plan=hit" in hit


def test_coverage_does_not_change_the_results(capsys: pytest.CaptureFixture[str]) -> None:
    _, plain, _ = run(capsys, "bundled", "--format", "json")
    _, observed, _ = run(capsys, "bundled", "--format", "json", "--coverage")
    assert json.loads(plain)["tests"] == json.loads(observed)["tests"]


# ---------------------------------------------------------------------------- coverage


def test_small_policy_coverage_exact(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(small), "--coverage", "--format", "json")
    assert code == 0, out
    coverage = json.loads(out)["coverage"]
    hit, missed, na = outcome_sets(coverage)
    # pool_threshold is routed (by default, to the credit events' roles) but the pool
    # declares no warnings, so nothing emits it; "inbound" is reached only by inbound calls.
    assert missed == {"route pool_threshold=emitted"}
    assert na == {"condition inbound: inbound=false"}
    assert len(hit) == 19
    assert {
        "guard domestic: deny no_plan unless user has basic=denied",
        "pool basic:domestic=drawn",
    } <= hit
    assert (coverage["covered"], coverage["total"], coverage["percent"]) == (19, 20, 95.0)


def test_small_policy_partial_coverage(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(small), "--coverage", "--format", "json", "--run", "domestic")
    assert code == 0
    coverage = json.loads(out)["coverage"]
    hit, _missed, _ = outcome_sets(coverage)
    assert hit == {
        "scenario domestic=hit",
        "guard domestic: deny no_plan unless user has basic=passed",
        "condition emergency: outbound=true",
        "condition emergency: to is emergency=false",
        "condition domestic: outbound=true",
        "condition domestic: destination is domestic=true",
        "pool basic:domestic=drawn",
    }
    assert (coverage["covered"], coverage["total"], coverage["percent"]) == (7, 20, 35.0)


def test_coverage_text_names_items_with_file_and_line(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, str(small), "--coverage")
    assert code == 0
    lines = out.splitlines()
    place = str(small / "policy.ccp")
    assert any(re.search(rf"guard +{re.escape(place)}:17 +denied ✔ +passed ✔", ln) for ln in lines)
    assert any(
        re.search(rf"route +{re.escape(place)}:8 +emitted ✘ MISSED +pool_threshold", ln)
        for ln in lines
    )
    assert "coverage: 95.0% (19/20)" in lines
    assert lines[-1] == "5 passed, 0 failed"


@pytest.mark.parametrize(("threshold", "expected"), [("95", 0), ("95.5", 1), ("0", 0)])
def test_threshold(
    small: Path, capsys: pytest.CaptureFixture[str], threshold: str, expected: int
) -> None:
    code, _, err = run(capsys, str(small), "--threshold", threshold)
    assert code == expected
    assert ("below the threshold" in err) == (expected == 1)


def test_threshold_out_of_range_is_a_usage_error(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, str(small), "--threshold", "101")
    assert code == 2
    assert "--threshold" in err


# ---------------------------------------------------------------------------- output


def test_pytest_like_dots_and_summary(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(small))
    assert code == 0
    assert out.splitlines() == [
        f"{display(small / 'tests' / 'small_test.yaml')} .....",
        "5 passed, 0 failed",
    ]


def display(path: Path) -> str:
    from policy.language.source import display_name

    return display_name(path)


FAILING = f"""\
  - name: passes
    calls:
      - {{id: d1, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}, duration: 60}}
    expect:
      - {{paid_by: plan}}
  - name: wrong payer
    calls:
      - {{id: d2, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}, duration: 60}}
    expect:
      - {{paid_by: credits, cost: "0.60", scenario: domestic}}
  - name: two expectations for one call
    calls:
      - {{id: d3, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}, duration: 60}}
    expect: [{{}}, {{}}]
"""  # noqa: E501


def test_failure_shows_expected_actual_and_trace(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_test(small, FAILING)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{display(path)} .FE"
    assert lines[-1] == "1 passed, 2 failed"
    assert "FAILURES" in out
    assert '  paid_by: expected "credits", got "plan"' in lines
    assert '  cost.amount: expected "0.60", got "0.00"' in lines
    assert not any(ln.startswith("  scenario:") for ln in lines)  # that field held
    policy = str(small / "policy.ccp")
    assert f"    {policy}:10 emergency: no — failed: to is emergency" in lines
    assert f"    {policy}:14 domestic: matched" in lines
    assert "2 expectations for 1 calls" in out


def test_run_filters_by_substring_and_glob(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(small), "--run", "ABROAD", "-v")
    assert [ln.split("::")[1] for ln in out.splitlines()[:-1]] == ["abroad until zero PASSED"]
    _, out, _ = run(capsys, str(small), "--run", "*o", "--run", "emergency", "-v")
    assert [ln.split("::")[1] for ln in out.splitlines()[:-1]] == [
        "emergency PASSED",
        "abroad until zero PASSED",
    ]
    code, out, err = run(capsys, str(small), "--run", "nothing like this")
    assert code == 1
    assert out.splitlines()[-1] == "0 passed, 0 failed"
    assert "no tests match" in err


def test_matches_glob_on_name_or_id() -> None:
    assert matches("a_test.yaml::Zone A warns", "Zone A warns", ["zone*"])
    assert matches("dir/a_test.yaml::x", "x", ["*a_test.yaml::*"])
    assert not matches("dir/a_test.yaml::x", "x", ["*a*"])  # the name only, without "::"
    assert matches("dir/a_test.yaml::Zone A warns", "Zone A warns", ["a w"])


def test_expected_errors(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = f"""\
      - name: misspelt licence is refused
        tenant: {{users: [{{upn: zoe@t.com, licenses: [basik]}}]}}
        calls:
          - {{id: z1, direction: outbound, user: zoe@t.com, to: "+12125550123", start: {START}}}
        error: unknown-licence
      - name: by message
        calls:
          - {{id: z2, direction: outbound, user: ann@t.com, to: "+4412", start: {START}}}
        error: not a possible phone number
      - name: wrong code expected
        tenant: {{users: [{{upn: zoe@t.com, licenses: [basik]}}]}}
        calls:
          - {{id: z3, direction: outbound, user: zoe@t.com, to: "+12125550123", start: {START}}}
        error: no-such-code
      - name: no error happens
        calls:
          - {{id: z4, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}}}
        error: unknown-licence
    """
    path = write_test(small, body)
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 1
    outcomes = {t["name"]: (t["outcome"], t["message"]) for t in json.loads(out)["tests"]}
    assert outcomes["misspelt licence is refused"][0] == "passed"
    assert outcomes["by message"][0] == "passed"
    assert outcomes["wrong code expected"][0] == "failed"
    wrong = outcomes["wrong code expected"][1]
    assert "expected error 'no-such-code', got [unknown-licence]" in wrong
    assert "did you mean 'basic'" in wrong
    assert outcomes["no error happens"] == (
        "failed",
        "expected error 'unknown-licence', but all 1 calls were decided",
    )


def test_json_report(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_test(small, FAILING)
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"] == {"tests": 3, "passed": 1, "failed": 2, "errors": 1}
    wrong = data["tests"][1]
    assert wrong["outcome"] == "failed" and wrong["line"] == 18
    diffs = {d["path"]: (d["expected"], d["actual"]) for d in wrong["calls"][0]["diffs"]}
    assert diffs == {"paid_by": ("credits", "plan"), "cost.amount": ("0.60", "0.00")}
    assert wrong["calls"][0]["trace"][1] == {
        "rule": "domestic",
        "file": str(small / "policy.ccp"),
        "line": 14,
        "matched": True,
    }


def test_junit_xml(small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_test(small, FAILING)
    code, out, _ = run(capsys, str(path), "--format", "junit")
    assert code == 1
    root = ET.fromstring(out)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == display(path)
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"passes", "wrong payer", "two expectations for one call"}
    assert list(cases["passes"]) == []
    failure = cases["wrong payer"].find("failure")
    assert failure is not None
    assert failure.get("message") == "2 fields differ in 1 call"
    assert 'paid_by: expected "credits", got "plan"' in (failure.text or "")
    assert "domestic: matched" in (failure.text or "")
    error = cases["two expectations for one call"].find("error")
    assert error is not None and "2 expectations for 1 calls" in (error.get("message") or "")

    report = tmp_path / "junit.xml"
    code, out, _ = run(capsys, str(path), "--format", "junit", "--output", str(report))
    assert code == 1
    assert ET.parse(report).getroot().get("tests") == "3"
    assert out.splitlines()[-1] == "1 passed, 2 failed"  # people still get the text report


def test_schema_errors_are_located(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = f"""\
      - name: typo
        calls:
          - {{id: d1, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}}}
        expect:
          - {{permited: true}}
      - name: nothing expected
        calls:
          - {{id: d2, direction: sideways, user: ann@t.com, to: "+12125550123", start: {START}}}
    """
    path = write_test(small, body)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    name = display(path)
    lines = out.splitlines()
    assert lines[0] == f"{name} E"
    assert (
        f"{name}:17: tests[0].expect[0].permited: unknown field 'permited' "
        "(did you mean 'permitted'?)"
    ) in lines
    assert f"{name}:18: tests[1]: missing required field 'expect'" in lines
    assert any(ln.startswith(f"{name}:20: tests[1].calls[0].direction: 'sideways'") for ln in lines)
    assert lines[-1] == "0 passed, 1 failed"


def test_tenant_errors_are_located_in_the_test_file(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f"""\
      - name: override breaks the tenant
        tenant:
          credits: {{balance: 5}}
        calls:
          - {{id: d1, direction: outbound, user: ann@t.com, to: "+12125550123", start: {START}}}
        expect: [{{}}]
    """
    path = write_test(small, body)
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert f"{display(path)}:15: credits.balance: must be a decimal string" in out


def test_missing_paths_and_empty_dirs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(tmp_path))
    assert code == 1 and "no test files" in err
    code, out, _ = run(capsys, str(tmp_path / "absent_test.yaml"))
    assert code == 1
    assert "file not found" in out


def test_unknown_format_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["test", "--format", "xml"])
    assert info.value.code == 2


# ---------------------------------------------------------------------------- comparison


def test_compare_is_a_subset_comparison() -> None:
    actual = {"permitted": True, "cost": {"amount": "0.70", "currency": "USD"}, "events": []}
    assert compare({"permitted": True, "cost": {"amount": "0.7"}}, actual) == []
    assert compare({"permitted": 1}, actual) == [FieldDiff("permitted", 1, True)]
    assert compare({"pool": None}, actual) == [FieldDiff("pool", None, MISSING)]
    assert compare({"events": [{"type": "balance_zero"}]}, actual) == [
        FieldDiff("events", [{"type": "balance_zero"}], [])
    ]


# ---------------------------------------------------------------------------- the schema


def test_schema_is_documented_for_editors() -> None:
    from jsonschema import Draft202012Validator

    schema = json.loads((schemas_dir() / "test.schema.json").read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://ccpolicy.dev/schemas/test.schema.json"
    assert schema["title"]

    def undocumented(node: Any, where: str) -> list[str]:
        found = []
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    found.append(f"{where}.{name}")
            for key, sub in node.items():
                found.extend(undocumented(sub, f"{where}/{key}"))
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                found.extend(undocumented(sub, f"{where}[{i}]"))
        return found

    assert undocumented(schema, "#") == []


# ---------------------------------------------------------------------------- file references

# A file outside the policy directory whose contents must never reach a message: it is
# not valid YAML, so reading it would quote the line holding the secret.
FOREIGN = "password: TOPSECRET: oops\n  - [\n"
TENANT_FILE = SMALL_HEAD.split("rates:")[0].replace("tenant:\n", "", 1)
TENANT_FILE = textwrap.dedent(TENANT_FILE)
ONE_CALL = f'[{{id: i1, direction: inbound, to: "+12125550999", start: {START}}}]'


@pytest.mark.parametrize(
    ("head", "test_fields", "where", "field"),
    [
        ("tenant: {outside}", "", (1, 9), "tenant"),
        ("tenant: ../../outside.yaml", "", (1, 9), "tenant"),
        ("tenant: link.yaml", "", (1, 9), "tenant"),
        ("tenant: ../tenant.yaml", "    tenant: ../../outside.yaml\n", (4, 13), "tests[0].tenant"),
        ("tenant: ../tenant.yaml", "    tenant: {outside}\n", (4, 13), "tests[0].tenant"),
        ("tenant: ../tenant.yaml\nrates: ../../outside.csv", "", (2, 8), "rates"),
        ("tenant: ../tenant.yaml\nrules: ../..", "", (2, 8), "rules"),
    ],
)
def test_references_outside_the_policy_directory_are_located_errors(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    head: str,
    test_fields: str,
    where: tuple[int, int],
    field: str,
) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(FOREIGN, encoding="utf-8")
    (tmp_path / "outside.csv").write_text("TOPSECRET\n", encoding="utf-8")
    folder = tmp_path / "pol"
    (folder / "tests").mkdir(parents=True)
    (folder / "policy.ccp").write_text(SMALL_POLICY, encoding="utf-8")
    (folder / "tenant.yaml").write_text(TENANT_FILE, encoding="utf-8")
    (folder / "tests" / "link.yaml").symlink_to(outside)
    body = (
        head.format(outside=outside)
        + "\ntests:\n  - name: t\n"
        + test_fields.format(outside=outside)
        + f"    calls: {ONE_CALL}\n    expect: [{{}}]\n"
    )
    path = folder / "tests" / "x_test.yaml"
    path.write_text(body, encoding="utf-8")
    code, out, err = run(capsys, str(path))
    assert code == 1
    line, column = where
    assert f"{display(path)}:{line}:{column}: {field}: " in out
    assert "is outside the policy directory" in out
    assert "TOPSECRET" not in out + err
    # `check` of the test file says the same, without running anything
    code = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"{display(path)}:{line}:{column}: {field}: " in out
    assert "TOPSECRET" not in out + err


def test_references_inside_the_policy_directory_still_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pol"
    (folder / "tests" / "data").mkdir(parents=True)
    (folder / "policy.ccp").write_text(SMALL_POLICY, encoding="utf-8")
    (folder / "tenant.yaml").write_text(TENANT_FILE, encoding="utf-8")
    (folder / "tests" / "data" / "calls.yaml").write_text(ONE_CALL + "\n", encoding="utf-8")
    (folder / "tests" / "link.yaml").symlink_to(folder / "tenant.yaml")  # a link inside
    path = folder / "tests" / "x_test.yaml"
    path.write_text(
        f"tenant: {folder / 'tenant.yaml'}\ntests:\n"
        "  - name: relative\n    tenant: ../tenant.yaml\n    calls: data/calls.yaml\n"
        "    expect: [{paid_by: free}]\n"
        "  - name: link\n    tenant: link.yaml\n    calls: ./data/../data/calls.yaml\n"
        "    expect: [{paid_by: free}]\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, str(path))
    assert code == 0, out
    assert out.splitlines()[-1] == "2 passed, 0 failed"
