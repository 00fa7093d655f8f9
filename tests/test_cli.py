"""The ``ccpolicy`` command line: exit codes, where output goes, located messages, JSON."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from policy.cli import main
from policy.data.documents import validate
from policy.support.resources import rules_dir, schemas_dir

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TENANT = EXAMPLES / "tenant.yaml"
CALLS = EXAMPLES / "calls.yaml"
ANSI = re.compile(r"\x1b\[")

GOOD_CALL = (
    "{id: a, direction: outbound, context: user, user: alice@contoso.com, "
    'to: "+12125551234", start: "2026-11-02T09:05:00-05:00", duration: 60}'
)

CLEAN_POLICY = """\
credits licence cc
role r
notify balance_zero to r
scenario c "C": when outbound then credits of user
scenario i "I": when inbound then free
"""


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``ccpolicy ARGV`` in-process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors, --help, --version
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def ccpolicy(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m policy ARGS`` as a real process."""
    environment = {**os.environ, "NO_COLOR": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "policy", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work inside tmp_path, so messages name files as written (``tenant.yaml:14: ...``)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def in_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return ROOT


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _tenant_text(**replace: str) -> str:
    text = TENANT.read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


# ---- check -----------------------------------------------------------------------------------


def test_check_bundled_rules_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(["check"], capsys)
    assert code == 0
    assert out == "checked 1 path: 0 errors, 0 warnings\n"
    assert err == ""


def test_check_bundled_rules_by_path(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", str(rules_dir())], capsys)
    assert code == 0
    assert out.endswith(": 0 errors, 0 warnings\n")


def test_check_prints_every_finding_and_a_summary(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(in_tmp / "a.ccp", CLEAN_POLICY)
    _write(in_tmp / "b.ccp", "notify balance_zero to rr\nrole lonely\nzone q = US XX\n")
    code, out, err = cli(["check", "."], capsys)
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    assert "b.ccp:1:24: error: unknown role 'rr' (did you mean 'r'?)" in lines
    assert "b.ccp:2:6: warning: role 'lonely' is never notified" in lines
    assert "b.ccp:3:13: error: unknown country code 'XX'" in lines
    assert "b.ccp:3:6: warning: zone 'q' is never used" in lines
    assert lines[-1] == "checked 1 path: 2 errors, 2 warnings"


def test_check_syntax_error_shows_caret(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "bad.ccp", 'scenario s "S"\n    when inbound then free\n')
    code, out, _ = cli(["check", "bad.ccp"], capsys)
    assert code == 1
    assert out.splitlines() == [
        "bad.ccp:2:5: error: unexpected 'when'; expected ':'",
        "        when inbound then free",
        "        ^",
        "checked 1 path: 1 error, 0 warnings",
    ]


def test_check_warnings_pass_unless_strict(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(in_tmp / "p.ccp", CLEAN_POLICY + "role lonely\n")
    code, out, _ = cli(["check", "p.ccp"], capsys)
    assert code == 0
    assert "p.ccp:6:6: warning: role 'lonely' is never notified" in out
    assert out.endswith("checked 1 path: 0 errors, 1 warning\n")
    code, out, _ = cli(["check", "--strict", "p.ccp"], capsys)
    assert code == 1
    assert out.endswith("checked 1 path: 0 errors, 1 warning\n")


def test_check_gap_warning_and_strict(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "p.ccp", CLEAN_POLICY.replace('scenario i "I": when inbound then free\n', ""))
    code, out, _ = cli(["check", "p.ccp"], capsys)
    assert code == 0
    assert "warning:" in out and "decided by no scenario" in out
    assert cli(["check", "--strict", "p.ccp"], capsys)[0] == 1


def test_check_json_format(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "p.ccp", CLEAN_POLICY + "notify balance_zero to rr\nrole lonely\n")
    code, out, err = cli(["check", "--format", "json", "p.ccp"], capsys)
    assert code == 1
    assert err == ""
    report = json.loads(out)
    assert report["summary"] == {"errors": 1, "warnings": 1, "paths": 1}
    by_code = {f["code"]: f for f in report["findings"]}
    assert by_code["unknown-name"] == {
        "severity": "error",
        "code": "unknown-name",
        "message": "unknown role 'rr' (did you mean 'r'?)",
        "file": "p.ccp",
        "line": 6,
        "column": 24,
    }
    unused = by_code["unused"]
    assert (unused["severity"], unused["file"], unused["line"], unused["column"]) == (
        "warning",
        "p.ccp",
        7,
        6,
    )


def test_check_json_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", "--format", "json"], capsys)
    assert code == 0
    assert json.loads(out) == {"findings": [], "summary": {"errors": 0, "warnings": 0, "paths": 1}}


def test_check_json_reports_unreadable_policy_file(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "pol").mkdir()
    (in_tmp / "pol" / "a.ccp").write_bytes(b"zone z = US\0")
    code, out, _ = cli(["check", "--format", "json", "pol"], capsys)
    assert code == 1
    report = json.loads(out)
    assert report["summary"]["errors"] == 1
    assert report["findings"][0]["file"].endswith("a.ccp")


# ---- check: data files -----------------------------------------------------------------------


def test_check_tenant_with_undeclared_licence(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alice = "[teams_phone, domestic_calling_plan, audio_conferencing, communications_credits]"
    text = _tenant_text(**{alice: alice.replace("domestic_calling_plan", "domestic_calling_pln")})
    _write(in_tmp / "tenant.yaml", text)
    line = _line_of(text, "domestic_calling_pln")
    code, out, err = cli(["check", "tenant.yaml"], capsys)
    assert code == 1
    assert err == ""
    lines = out.splitlines()
    headline = next(x for x in lines if "domestic_calling_pln" in x)
    assert headline.startswith(
        f"tenant.yaml:{line}: users[0].licenses[1]: 'domestic_calling_pln' is not one of ["
    )
    assert "'domestic_calling_plan'" in headline and "'teams_phone'" in headline
    assert "    hint: did you mean 'domestic_calling_plan'?" in lines
    assert lines[-1] == "checked 1 path: 1 error, 1 warning"


def test_check_tenant_role_not_routed_is_a_warning(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _tenant_text()
    _write(in_tmp / "tenant.yaml", text)
    line = _line_of(text, "reports_reader")
    code, out, _ = cli(["check", "tenant.yaml"], capsys)
    assert code == 0
    assert (
        f"tenant.yaml:{line}: warning: admins[2].roles[0]: role 'reports_reader' is not "
        "notified by the policy"
    ) in out.splitlines()
    assert out.endswith("checked 1 path: 0 errors, 1 warning\n")
    assert cli(["check", "--strict", "tenant.yaml"], capsys)[0] == 1


def test_check_tenant_role_typo_gets_a_suggestion(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(in_tmp / "tenant.yaml", _tenant_text(**{"[global_admin]": "[globl_admin]"}))
    code, out, _ = cli(["check", "tenant.yaml"], capsys)
    assert code == 0
    assert "role 'globl_admin' is not notified by the policy" in out
    assert "    hint: did you mean 'global_admin'?" in out.splitlines()


def test_check_examples_folder(in_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", "examples"], capsys)
    assert code == 0
    assert re.search(r"checked \d+ paths: 0 errors, \d+ warnings?\n\Z", out)
    assert "examples/tenant.yaml:" in out and "reports_reader" in out


def test_check_calls_with_impossible_number(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD_CALL.replace("id: a", "id: b").replace("+12125551234", "+1555")
    _write(in_tmp / "calls.yaml", f"# two calls\n- {GOOD_CALL}\n- {bad}\n")
    code, out, _ = cli(["check", "calls.yaml"], capsys)
    assert code == 1
    assert out.splitlines()[0] == (
        "calls.yaml:3: [1].to: '+1555' is not a possible phone number (wrong length for +1)"
    )
    assert out.endswith("checked 1 path: 1 error, 0 warnings\n")


def test_check_calls_schema_violation(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "calls.yaml", "- " + GOOD_CALL.replace("duration: 60", "duration: -1") + "\n")
    code, out, _ = cli(["check", "calls.yaml"], capsys)
    assert code == 1
    assert out.startswith("calls.yaml:1: [0].duration: ")


def test_check_rate_card_with_a_bad_cell(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(
        in_tmp / "rates.csv",
        "prefix,destination,number_type,origin,connect_fee,rate,rate_unit,increment,"
        "from_second\n1,US,,,0.00,0.013,60,60,0\n44,UK,,,0.00,abc,60,60,0\n",
    )
    code, out, err = cli(["check", "rates.csv"], capsys)
    assert code == 1
    assert err == ""
    assert out.splitlines()[0] == "rates.csv:3: rate: 'abc' is not a decimal"
    assert out.endswith("checked 1 path: 1 error, 0 warnings\n")


def test_check_unknown_kind_of_file(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "notes.yaml", "hello: world\n")
    code, out, _ = cli(["check", "notes.yaml"], capsys)
    assert code == 1
    assert out.startswith("notes.yaml:1: error: cannot tell what kind of file this is")


def test_check_missing_data_file(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", "nope.yaml"], capsys)
    assert code == 1
    assert out.splitlines()[0].startswith("nope.yaml")
    assert "not found" in out


# ---- eval ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def decision_validator() -> Draft202012Validator:
    schema = json.loads((schemas_dir() / "decision.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _example_ids() -> list[str]:
    return [c["id"] for c in yaml.safe_load(CALLS.read_text(encoding="utf-8"))]


def test_eval_examples_json_lines(
    capsys: pytest.CaptureFixture[str], decision_validator: Draft202012Validator
) -> None:
    code, out, err = cli(["eval", "--tenant", str(TENANT), "--calls", str(CALLS)], capsys)
    assert code == 0
    assert err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["call"] for r in records] == _example_ids()
    for record in records:
        assert validate(record, "decision") == []
        assert list(decision_validator.iter_errors(record)) == []
    by_id = {r["call"]: r for r in records}
    assert by_id["c01"]["paid_by"] == "free" and by_id["c01"]["permitted"] is True
    assert by_id["c17"]["denial"] == "unknown_user"
    assert by_id["c18"]["max_duration"] is not None and "cost" not in by_id["c18"]


def test_eval_json_trace_names_file_and_line(
    in_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        ["eval", "--tenant", "examples/tenant.yaml", "--calls", "examples/calls.yaml"], capsys
    )
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert first["trace"][0] == {
        "rule": "emergency",
        "file": "rules/scenarios.ccp",
        "line": 9,
        "matched": True,
    }


def test_eval_text_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        ["eval", "--tenant", str(TENANT), "--calls", str(CALLS), "--format", "text"], capsys
    )
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("c01: PERMITTED")
    assert any(line.startswith("c17: DENIED (unknown_user)") for line in lines)
    total = len(_example_ids())
    match = re.fullmatch(r"(\d+) calls: (\d+) permitted, (\d+) denied", lines[-1])
    assert match is not None
    assert int(match[1]) == total == int(match[2]) + int(match[3])
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[0])


def test_eval_explain_text_lists_rules_with_file_and_line(
    in_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        [
            "eval",
            "--tenant",
            "examples/tenant.yaml",
            "--calls",
            "examples/calls.yaml",
            "--format",
            "text",
            "--explain",
        ],
        capsys,
    )
    assert code == 0
    assert "rules/scenarios.ccp:9 emergency" in out
    assert re.search(r"rules/scenarios\.ccp:82 domestic_call", out)
    plain_code, plain, _ = cli(
        [
            "eval",
            "--tenant",
            "examples/tenant.yaml",
            "--calls",
            "examples/calls.yaml",
            "--format",
            "text",
        ],
        capsys,
    )
    assert plain_code == 0
    assert "rules/scenarios.ccp:9" not in plain


def test_eval_explain_json_adds_facts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        ["eval", "--tenant", str(TENANT), "--calls", str(CALLS), "--explain"], capsys
    )
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == len(_example_ids())
    for record in records:
        assert isinstance(record["facts"], dict)
    assert records[0]["facts"]["destination"]["emergency"] is True
    code, out, _ = cli(["eval", "--tenant", str(TENANT), "--calls", str(CALLS)], capsys)
    assert all("facts" not in json.loads(line) for line in out.splitlines())


def test_eval_explain_json_still_matches_the_decision_schema(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(
        ["eval", "--tenant", str(TENANT), "--calls", str(CALLS), "--explain"], capsys
    )
    assert code == 0
    for line in out.splitlines():
        assert validate(json.loads(line), "decision") == []


def test_eval_json_lines_calls_file(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = yaml.safe_load(CALLS.read_text(encoding="utf-8"))[:3]
    _write(in_tmp / "calls.jsonl", "".join(json.dumps(c) + "\n" for c in calls))
    code, out, _ = cli(["eval", "--tenant", str(TENANT), "--calls", "calls.jsonl"], capsys)
    assert code == 0
    assert [json.loads(x)["call"] for x in out.splitlines()] == ["c01", "c02", "c03"]


# ---- eval: bad input -------------------------------------------------------------------------

ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
ALIAS_BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + ALIAS_BOMB


def _calls(duration: str = "60", to: str = "+12125551234") -> str:
    return (
        "- "
        + GOOD_CALL.replace("duration: 60", f"duration: {duration}").replace("+12125551234", to)
        + "\n"
    )


# (files to write, which file is the tenant, which the calls, expected start of stderr, a
# fragment of the message)
BAD_INPUTS = {
    "missing tenant": ({}, "nope.yaml", None, "nope.yaml", "not found"),
    "binary calls": (
        {"calls.yaml": b"- {id: a\0}\n"},
        None,
        "calls.yaml",
        "calls.yaml:1:",
        "binary",
    ),
    "malformed yaml": (
        {"calls.yaml": "- {id: a, direction: outbound\n- [\n"},
        None,
        "calls.yaml",
        "calls.yaml:2:",
        "invalid YAML",
    ),
    "negative duration": (
        {"calls.yaml": _calls("-5")},
        None,
        "calls.yaml",
        "calls.yaml:1: [0].duration: ",
        "at least 0",
    ),
    "fractional duration": (
        {"calls.yaml": _calls("1.5")},
        None,
        "calls.yaml",
        "calls.yaml:1: [0].duration: ",
        "integer",
    ),
    "unquoted balance": (
        {"tenant.yaml": _tenant_text(**{'balance: "50.00"': "balance: 50.00"})},
        "tenant.yaml",
        None,
        f"tenant.yaml:{_line_of(_tenant_text(), 'balance:')}: credits.balance: ",
        "quote",
    ),
    "impossible number": (
        {"calls.yaml": _calls(to="+1555")},
        None,
        "calls.yaml",
        "calls.yaml:1: [0].to: ",
        "'+1555' is not a possible phone number",
    ),
    "unknown licence": (
        {"tenant.yaml": _tenant_text(**{"[teams_phone]": "[teams_phon]"})},
        "tenant.yaml",
        None,
        f"tenant.yaml:{_line_of(_tenant_text(), '[teams_phone]')}: users[4].licenses[0]: "
        "'teams_phon' is not one of [",
        "did you mean 'teams_phone'?",
    ),
    "alias bomb calls": ({"calls.yaml": ALIAS_BOMB}, None, "calls.yaml", "calls.yaml:", "aliases"),
    "alias bomb tenant": (
        {"tenant.yaml": ALIAS_BOMB},
        "tenant.yaml",
        None,
        "tenant.yaml:",
        "aliases",
    ),
    "calls is a mapping": ({"calls.yaml": "{}\n"}, None, "calls.yaml", "calls.yaml:1: ", "a list"),
    "call with unknown field": (
        {"calls.yaml": _calls().replace("}", ", colour: red}")},
        None,
        "calls.yaml",
        "calls.yaml:1: [0].colour: ",
        "unknown field",
    ),
    "missing rate card": ({}, None, None, "nope.csv", "file not found"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_eval_bad_input(case: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files, tenant, calls, starts, fragment = BAD_INPUTS[case]
    for name, content in files.items():
        if isinstance(content, bytes):
            (in_tmp / name).write_bytes(content)
        else:
            _write(in_tmp / name, content)
    argv = ["eval", "--tenant", tenant or str(TENANT), "--calls", calls or str(CALLS)]
    if case == "missing rate card":
        argv += ["--rates", "nope.csv"]
    code, out, err = cli(argv, capsys)
    assert code == 1
    assert out == ""
    assert err.startswith(starts), err
    assert fragment in err
    assert "Traceback" not in err


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_eval_extreme_start_is_bad_input(
    start: str, in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(
        in_tmp / "calls.yaml", "- " + GOOD_CALL.replace("2026-11-02T09:05:00-05:00", start) + "\n"
    )
    code, out, err = cli(["eval", "--tenant", str(TENANT), "--calls", "calls.yaml"], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("calls.yaml:1: [0].start")


def test_eval_bad_policy_is_bad_input(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(in_tmp / "p.ccp", CLEAN_POLICY + "notify balance_zero to rr\n")
    code, out, err = cli(
        ["eval", "--rules", ".", "--tenant", str(TENANT), "--calls", str(CALLS)], capsys
    )
    assert code == 1
    assert out == ""
    assert err.startswith("p.ccp:6:24: error: unknown role 'rr'")


def test_eval_rate_card_in_another_currency(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (in_tmp / "eur.csv").write_bytes((rules_dir() / "rates.csv").read_bytes())
    _write(in_tmp / "eur.yaml", "currency: EUR\nrounding: {method: up, decimals: 2}\n")
    code, out, err = cli(
        ["eval", "--tenant", str(TENANT), "--calls", str(CALLS), "--rates", "eur.csv"], capsys
    )
    assert code == 1
    assert out == ""
    assert "EUR" in err and "USD" in err


# ---- usage -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["eval", "--calls", "c.yaml"], "the following arguments are required: --tenant"),
        (["eval", "--tenant", "t.yaml"], "the following arguments are required: --calls"),
        (
            ["eval", "--tenant", "t.yaml", "--calls", "c.yaml", "--format", "xml"],
            "invalid choice: 'xml'",
        ),
        (["check", "--format", "xml"], "invalid choice: 'xml'"),
        (["check", "--no-such-option"], "unrecognized arguments"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(argv, capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("usage: ccpolicy")
    assert fragment in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli([], capsys)
    assert code == 2
    assert out == ""
    assert "check" in err and "eval" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["--version"], capsys)
    assert code == 0
    assert out.startswith("ccpolicy ")


# ---- colour ----------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _check_on_terminal(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    _write(folder / "p.ccp", CLEAN_POLICY + "notify balance_zero to rr\nrole lonely\n")
    stream = _Terminal()
    monkeypatch.setattr(sys, "stdout", stream)
    assert main(["check", "p.ccp"]) == 1
    return stream.getvalue()


def test_colour_on_a_terminal(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    out = _check_on_terminal(in_tmp, monkeypatch)
    assert ANSI.search(out)


def test_no_color_is_respected(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    out = _check_on_terminal(in_tmp, monkeypatch)
    assert not ANSI.search(out)
    assert "p.ccp:6:24: error: unknown role 'rr'" in out
    assert "p.ccp:7:6: warning: role 'lonely' is never notified" in out


def test_dumb_terminal_gets_no_colour(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert not ANSI.search(_check_on_terminal(in_tmp, monkeypatch))


def test_no_colour_when_not_a_terminal(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    _write(in_tmp / "p.ccp", CLEAN_POLICY + "notify balance_zero to rr\n")
    code, out, _ = cli(["check", "p.ccp"], capsys)
    assert code == 1
    assert not ANSI.search(out)


# ---- real processes --------------------------------------------------------------------------


def test_process_check_clean() -> None:
    result = ccpolicy("check")
    assert result.returncode == 0
    assert result.stdout == "checked 1 path: 0 errors, 0 warnings\n"
    assert result.stderr == ""


def test_process_eval_examples() -> None:
    result = ccpolicy("eval", "--tenant", "examples/tenant.yaml", "--calls", "examples/calls.yaml")
    assert result.returncode == 0
    assert result.stderr == ""
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["call"] for r in records] == _example_ids()


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("calls.yaml", _calls(to="+1555"), "calls.yaml:1: [0].to: '+1555'"),
        ("calls.yaml", ALIAS_BOMB, "calls.yaml:"),
        ("calls.yaml", "- [\n", "calls.yaml:"),
    ],
)
def test_process_bad_input_no_traceback(
    name: str, content: str, fragment: str, tmp_path: Path
) -> None:
    _write(tmp_path / name, content)
    result = ccpolicy("eval", "--tenant", str(TENANT), "--calls", name, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(fragment)
    assert "Traceback" not in result.stderr


def test_process_bad_policy_no_traceback(tmp_path: Path) -> None:
    _write(tmp_path / "p.ccp", "zone z = us\n")
    result = ccpolicy("check", "p.ccp", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("p.ccp:1:10: error: unexpected 'us'")
    assert "Traceback" not in result.stdout + result.stderr


def test_process_usage_error() -> None:
    result = ccpolicy("eval", "--tenant", "examples/tenant.yaml")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--calls" in result.stderr
    assert "Traceback" not in result.stderr


def test_process_no_color_even_on_error(tmp_path: Path) -> None:
    _write(tmp_path / "p.ccp", CLEAN_POLICY + "notify balance_zero to rr\n")
    result = ccpolicy("check", "p.ccp", cwd=tmp_path, NO_COLOR="1")
    assert result.returncode == 1
    assert not ANSI.search(result.stdout + result.stderr)


def test_process_deeply_nested_policy_no_traceback(tmp_path: Path) -> None:
    _write(tmp_path / "deep.ccp", 'scenario s "S": when ' + "not " * 2000 + "inbound then free\n")
    result = ccpolicy("check", "deep.ccp", cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode in (0, 1)
