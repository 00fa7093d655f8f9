"""Editor and CI support: the TextMate grammar, the pre-commit hooks, the test-report
schema, and the Northwind worked example of docs/authoring.md."""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from policy.cli import main
from policy.language import vocabulary

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR_PATH = ROOT / "editors" / "ccp.tmLanguage.json"
LARK = ROOT / "policy" / "language" / "grammar.lark"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
REPORT_SCHEMA = ROOT / "schemas" / "test-report.schema.json"
NORTHWIND = ROOT / "examples" / "northwind"


# ------------------------------------------------------------------ TextMate grammar


@pytest.fixture(scope="module")
def grammar() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))
    return data


def _rules(node: Any) -> Iterator[dict[str, Any]]:
    """Every rule object (a dict with match/begin/patterns) anywhere in the grammar."""
    if isinstance(node, dict):
        if "match" in node or "begin" in node or "include" in node:
            yield node
        for value in node.values():
            yield from _rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from _rules(value)


def _matchers(grammar: dict[str, Any]) -> list[tuple[re.Pattern[str], dict[str, Any]]]:
    return [(re.compile(r["match"]), r) for r in _rules(grammar) if "match" in r]


def lark_literals() -> set[str]:
    """The quoted literals of policy/language/grammar.lark: keywords and punctuation."""
    text = LARK.read_text(encoding="utf-8")
    text = re.sub(r"//[^\n]*", "", text)  # comments
    text = re.sub(r"/(?:\\.|[^/\n])+/", "", text)  # regular-expression terminals
    return set(re.findall(r'"((?:[^"\\]|\\.)*)"', text))


def test_lark_literals_are_parsed() -> None:
    literals = lark_literals()
    # a sample from every part of the grammar, including the awkward spellings
    assert {"zone", "license", "user's", "organizer's", "tenant-wide", "{", "=", ","} <= literals
    assert not any(lit.startswith("(") and len(lit) > 1 for lit in literals)  # no regex bits
    assert len(literals) > 60


def test_grammar_has_the_required_keys(grammar: dict[str, Any]) -> None:
    assert grammar["scopeName"] == "source.ccp"
    assert grammar["name"]
    assert "ccp" in grammar["fileTypes"]
    assert grammar["patterns"] and grammar["repository"]
    for kind in ("comment", "string", "declaration", "keyword", "country", "number"):
        assert kind in grammar["repository"], kind


def test_every_include_resolves(grammar: dict[str, Any]) -> None:
    includes = [r["include"] for r in _rules(grammar) if "include" in r]
    assert includes
    for include in includes:
        assert include.startswith("#") and include[1:] in grammar["repository"], include


def test_every_regex_compiles_and_scopes_end_in_ccp(grammar: dict[str, Any]) -> None:
    scopes: list[str] = []
    for rule in _rules(grammar):
        for key in ("match", "begin", "end"):
            if key in rule:
                re.compile(rule[key])
        if "name" in rule:
            scopes.append(rule["name"])
        for captures in ("captures", "beginCaptures", "endCaptures"):
            scopes += [c["name"] for c in rule.get(captures, {}).values()]
    assert scopes
    assert all(s.endswith(".ccp") for s in scopes), [s for s in scopes if not s.endswith(".ccp")]


KEYWORD_SCOPES = ("keyword.", "storage.", "variable.language.")


def test_every_lark_literal_is_matched_by_a_keyword_pattern(grammar: dict[str, Any]) -> None:
    matchers = _matchers(grammar)
    missing = []
    for literal in sorted(lark_literals()):
        scopes = [
            rule.get("name", "")
            for regex, rule in matchers
            if regex.fullmatch(literal) and "captures" not in rule
        ]
        if literal[0].isalpha():  # a keyword: it must get a keyword-like scope
            ok = any(s.startswith(KEYWORD_SCOPES) for s in scopes)
        else:  # punctuation
            ok = bool(scopes)
        if not ok:
            missing.append(literal)
    assert missing == []


def test_keyword_patterns_do_not_match_inside_names(grammar: dict[str, Any]) -> None:
    keyword_rules = grammar["repository"]["keyword"]["patterns"]
    for rule in keyword_rules:
        regex = re.compile(rule["match"])
        for name in ("user_admin", "audio_conferencing", "pool_a", "domestic2", "tenant_x"):
            assert not regex.fullmatch(name), (rule["name"], name)
            found = regex.search(name)
            assert found is None, (rule["name"], name, found)


@pytest.mark.parametrize(
    ("line", "name", "scope"),
    [
        ('zone europe "Europe" = GB FR', "europe", "entity.name.type.zone.ccp"),
        ("domestic area uk = GB GG JE IM", "uk", "entity.name.type.area.ccp"),
        ('licence world_roaming "World Roaming"', "world_roaming", "entity.name.type.licence.ccp"),
        ("license teams_phone", "teams_phone", "entity.name.type.licence.ccp"),
        ("credits licence northwind_credits", "northwind_credits", "entity.name.type.licence.ccp"),
        ('role bill_payer "Bill payer"', "bill_payer", "entity.name.type.role.ccp"),
        ('denial no_plan "No plan."', "no_plan", "entity.name.constant.denial.ccp"),
        (
            'plan northwind_essentials "Essentials" {',
            "northwind_essentials",
            "entity.name.type.plan.ccp",
        ),
        ("    pool domestic: 500 minutes per user", "domestic", "entity.name.variable.pool.ccp"),
        (
            'conferencing pool zone_a "Zone A": 60 minutes',
            "zone_a",
            "entity.name.variable.pool.ccp",
        ),
        ('scenario roam_home "Sentence":', "roam_home", "entity.name.function.scenario.ccp"),
    ],
)
def test_declared_names_get_entity_name_scopes(
    grammar: dict[str, Any], line: str, name: str, scope: str
) -> None:
    hits = []
    for rule in grammar["repository"]["declaration"]["patterns"]:
        found = re.search(rule["match"], line)
        if found:
            for group, capture in rule["captures"].items():
                if found.group(int(group)) == name:
                    hits.append(capture["name"])
    assert hits == [scope]


def test_conditions_are_not_mistaken_for_declarations(grammar: dict[str, Any]) -> None:
    lines = [
        "    when from user and user's plan is northwind_unlimited",
        "    then pool domestic, spill over to credits of user",
        "         and pool domestic has no minutes left",
        "    60 minutes per audio_conferencing licence, tenant-wide, warn at 80%",
    ]
    for line in lines:
        for rule in grammar["repository"]["declaration"]["patterns"]:
            assert re.search(rule["match"], line) is None, (line, rule["match"])


def test_the_engine_vocabulary_is_highlighted(grammar: dict[str, Any]) -> None:
    builtin = [re.compile(r["match"]) for r in grammar["repository"]["builtin"]["patterns"]]
    words = [
        *vocabulary.CONTEXTS[1:],  # "user" is a keyword (subject and payer)
        *vocabulary.NUMBER_CLASSES,
        *(k for k in vocabulary.DESTINATION_KINDS if k != "domestic"),  # a keyword too
        *vocabulary.EVENTS,
        *vocabulary.BUILTIN_DENIALS,
    ]
    assert [w for w in words if not any(r.fullmatch(w) for r in builtin)] == []


def test_comments_strings_countries_numbers(grammar: dict[str, Any]) -> None:
    repo = grammar["repository"]
    assert re.fullmatch(repo["comment"]["match"], "# who pays")
    assert repo["string"]["begin"] == '"'
    escape = repo["string"]["patterns"][0]["match"]
    assert re.fullmatch(escape, r"\"")
    assert re.fullmatch(repo["country"]["match"], "GB")
    assert not re.search(repo["country"]["match"], "GBR")
    percent, integer = (re.compile(p["match"]) for p in repo["number"]["patterns"])
    assert percent.fullmatch("80%") and not percent.fullmatch("80")
    assert integer.fullmatch("3000")


def test_vscode_manifest_contributes_language_and_grammar(grammar: dict[str, Any]) -> None:
    folder = ROOT / "editors" / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (contributed,) = manifest["contributes"]["grammars"]
    assert ".ccp" in language["extensions"]
    assert contributed["language"] == language["id"]
    assert contributed["scopeName"] == grammar["scopeName"]
    assert Path(contributed["path"]).name == GRAMMAR_PATH.name
    config_path = folder / Path(language["configuration"]).name
    config = json.loads(config_path.read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"
    assert ["{", "}"] in config["brackets"] and ["(", ")"] in config["brackets"]
    assert manifest["engines"]["vscode"]


# ------------------------------------------------------------------ pre-commit hooks


@pytest.fixture(scope="module")
def hooks() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return {hook["id"]: hook for hook in data}


def test_hooks_are_the_three_commands(hooks: dict[str, dict[str, Any]]) -> None:
    assert set(hooks) == {"ccpolicy-check", "ccpolicy-fmt", "ccpolicy-test"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["name"] and hook["entry"]
        assert isinstance(hook["pass_filenames"], bool)
    assert shlex.split(hooks["ccpolicy-fmt"]["entry"])[1:] == ["fmt", "--check"]
    assert hooks["ccpolicy-fmt"]["pass_filenames"] is True
    # a policy is a directory: check and test run on the paths given in args
    assert hooks["ccpolicy-check"]["pass_filenames"] is False
    assert hooks["ccpolicy-test"]["pass_filenames"] is False


@pytest.mark.parametrize(
    ("hook_id", "path", "selected"),
    [
        ("ccpolicy-check", "my_rules/scenarios.ccp", True),
        ("ccpolicy-check", "my_rules/tenant.yaml", True),
        ("ccpolicy-check", "my_rules/rates.csv", True),
        ("ccpolicy-check", "README.md", False),
        ("ccpolicy-fmt", "my_rules/catalog.ccp", True),
        ("ccpolicy-fmt", "my_rules/tenant.yaml", False),
        ("ccpolicy-fmt", "my_rules/catalog.ccp.bak", False),
        ("ccpolicy-test", "my_rules/tests/zone_test.yaml", True),
        ("ccpolicy-test", "my_rules/scenarios.ccp", True),
        ("ccpolicy-test", "setup.py", False),
    ],
)
def test_hook_file_selection(
    hooks: dict[str, dict[str, Any]], hook_id: str, path: str, selected: bool
) -> None:
    # pre-commit applies `files` with re.search
    assert bool(re.search(hooks[hook_id]["files"], path)) is selected


@pytest.mark.parametrize("hook_id", ["ccpolicy-check", "ccpolicy-fmt", "ccpolicy-test"])
def test_hook_entry_is_a_ccpolicy_command(
    hooks: dict[str, dict[str, Any]], hook_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    program, command, *options = shlex.split(hooks[hook_id]["entry"])
    assert program == "ccpolicy"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^ccpolicy\s*=\s*"policy\.cli:', pyproject, re.MULTILINE)
    with pytest.raises(SystemExit) as exit_info:
        main([command, *options, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: ccpolicy {command}")
    for option in options:
        assert option in out


# ------------------------------------------------------------------ test-report schema


@pytest.fixture(scope="module")
def report_validator() -> Draft202012Validator:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _json_report(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["test", *argv, "--format", "json"])
    out = capsys.readouterr().out
    data: dict[str, Any] = json.loads(out)
    return code, data


def _errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def test_report_schema_identity_and_descriptions() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$id"] == "https://ccpolicy.dev/schemas/test-report.schema.json"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["description"]
    undescribed = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if not sub.get("description"):
                    undescribed.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "")
    assert undescribed == []


def test_report_schema_validates_the_bundled_run(
    report_validator: Draft202012Validator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = _json_report(capsys, "bundled")
    assert code == 0 and "coverage" not in data
    assert _errors(report_validator, data) == []


def test_report_schema_validates_a_coverage_run(
    report_validator: Draft202012Validator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data = _json_report(capsys, "bundled", "--coverage", "--threshold", "50")
    assert code == 0 and data["coverage"]["threshold"] == 50
    assert _errors(report_validator, data) == []
    kinds = {item["kind"] for p in data["coverage"]["policies"] for item in p["items"]}
    assert {"scenario", "condition", "pool", "route"} <= kinds


def test_report_schema_validates_failures_and_errors(
    report_validator: Draft202012Validator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # a test file names files inside its policy directory: a copy of northwind's
    for source in NORTHWIND.iterdir():
        if source.is_file():
            (tmp_path / source.name).write_bytes(source.read_bytes())
    (tmp_path / "broken_test.yaml").write_text("tenant: [\n", encoding="utf-8")
    (tmp_path / "wrong_test.yaml").write_text(
        "tenant: tenant.yaml\n"
        "rules: .\n"
        "tests:\n"
        "  - name: wrong on purpose\n"
        "    calls:\n"
        "      - {id: w1, direction: outbound, user: finn@harper.example, to: '+447400123456',"
        " start: '2026-11-02T10:00:00+00:00', duration: 300}\n"
        "    expect:\n"
        "      - {cost: '9.99', max_duration: 3, events: [{type: balance_zero}]}\n"
        "  - name: no error happens\n"
        "    calls:\n"
        "      - {id: w2, direction: outbound, user: finn@harper.example, to: '+447400123456',"
        " start: '2026-11-02T10:00:00+00:00', duration: 60}\n"
        "    error: unknown-licence\n",
        encoding="utf-8",
    )
    code, data = _json_report(capsys, str(tmp_path), "--coverage")
    assert code == 1
    assert data["summary"] == {"tests": 3, "passed": 0, "failed": 3, "errors": 1}
    assert _errors(report_validator, data) == []
    (failed,) = [t for t in data["tests"] if t["name"] == "wrong on purpose"]
    paths = {d["path"]: d for d in failed["calls"][0]["diffs"]}
    assert paths["max_duration"]["missing"] is True and paths["max_duration"]["actual"] is None
    assert failed["calls"][0]["trace"][-1]["matched"] is True


def test_report_schema_rejects_a_changed_shape(
    report_validator: Draft202012Validator, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data = _json_report(capsys, "bundled", "--coverage")
    assert _errors(report_validator, data) == []

    extra = copy.deepcopy(data)
    extra["summary"]["skipped"] = 0
    wrong_outcomes = copy.deepcopy(data)
    item = wrong_outcomes["coverage"]["policies"][0]["items"][0]
    assert item["kind"] == "scenario"
    item["outcomes"] = {"true": True, "false": True}
    bad_outcome = copy.deepcopy(data)
    bad_outcome["tests"][0]["outcome"] = "skipped"
    no_threshold = copy.deepcopy(data)
    del no_threshold["coverage"]["threshold"]
    for broken in (extra, wrong_outcomes, bad_outcome, no_threshold):
        assert _errors(report_validator, broken) != []


# ------------------------------------------------------------------ the Northwind example


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def test_northwind_is_clean_under_check(at_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [
        "examples/northwind",
        "examples/northwind/tenant.yaml",
        "examples/northwind/calls.yaml",
        "examples/northwind/rates.csv",
        "examples/northwind/tests",
    ]
    code = main(["check", "--strict", *paths])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.strip().endswith("0 errors, 0 warnings")


def test_northwind_has_no_gaps_or_dead_rules(
    at_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analyze", "examples/northwind", "--strict", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    summary = data["summary"]
    assert (summary["gaps"], summary["shadowed"], summary["unreachable"]) == (0, 0, 0)
    assert summary["scenarios"] == 13


def _northwind_test_count() -> int:
    files = sorted((NORTHWIND / "tests").glob("*_test.yaml"))
    assert files
    return sum(len(yaml.safe_load(f.read_text("utf-8"))["tests"]) for f in files)


def test_northwind_tests_pass_with_full_coverage(
    at_root: Path,
    capsys: pytest.CaptureFixture[str],
    report_validator: Draft202012Validator,
) -> None:
    args = ["examples/northwind/tests", "--rules", "examples/northwind", "--coverage"]
    code, data = _json_report(capsys, *args, "--threshold", "100")
    assert code == 0
    assert _errors(report_validator, data) == []
    count = _northwind_test_count()
    assert data["summary"] == {"tests": count, "passed": count, "failed": 0, "errors": 0}
    coverage = data["coverage"]
    assert coverage["percent"] == 100.0 and coverage["covered"] == coverage["total"] > 0
    (policy,) = coverage["policies"]
    assert [Path(s).name for s in policy["sources"]] == ["catalog.ccp", "scenarios.ccp"]
    missed = [i["name"] for i in policy["items"] if False in i["outcomes"].values()]
    assert missed == []
    kinds = {i["kind"] for i in policy["items"]}
    assert kinds == {"scenario", "guard", "condition", "pool", "route"}


def test_the_guide_reports_the_real_test_count(
    at_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["test", "examples/northwind/tests", "--coverage"])
    out = capsys.readouterr().out
    assert code == 0
    summary = out.strip().splitlines()[-1]
    coverage_line = out.strip().splitlines()[-2]
    assert summary == f"{_northwind_test_count()} passed, 0 failed"
    guide = (ROOT / "docs" / "authoring.md").read_text(encoding="utf-8")
    assert summary in guide
    assert coverage_line in guide
