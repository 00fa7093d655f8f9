"""What a new policy author tripped over (issue 15): each case fails without its fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from policy.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NORTHWIND = EXAMPLES / "northwind"
RATE = Path(__file__).parent / "data" / "rate"


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# -------------------------------------------------------------- 1. optional extras


def test_missing_charts_extra_keeps_the_table_and_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = cli(
        [
            "report", "funding", "--tenant", str(RATE / "funding_tenant.yaml"),
            "--history", str(RATE / "funding_history.csv"),
            "--rates", str(RATE / "funding_rates.csv"),
            "--candidates", "75:100", "--chart", str(tmp_path / "c.png"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert "recharges" in out and "75" in out  # the table computed is not lost
    assert "Traceback" not in err and "pip install 'ccpolicy[charts]'" in err
    assert not (tmp_path / "c.png").exists()


def test_missing_xlsx_extra_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    code, _, err = cli(
        [
            "rate", "--tenant", str(RATE / "tenant.yaml"), "--calls", str(RATE / "calls.csv"),
            "--out", str(tmp_path / "o.xlsx"), "--no-progress",
        ],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert "pip install 'ccpolicy[xlsx]'" in err


def test_missing_ledger_extra_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m == "policy.ledger" or m.startswith("policy.ledger.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    code, _, err = cli(
        [
            "ledger", "balance", "--db", f"sqlite:///{tmp_path / 'l.db'}",
            "--tenant", str(EXAMPLES / "tenant.yaml"),
        ],
        capsys,
    )  # fmt: skip
    assert code == 3
    assert "pip install 'ccpolicy[ledger]'" in err


# -------------------------------------------------------------- 2. non-UTF-8 streams


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--tenant", "examples/tenant.yaml", "--calls", "examples/calls.yaml",
         "--format", "text"],
        ["explain", "--tenant", "examples/tenant.yaml", "--calls", "examples/calls.yaml",
         "--id", "c02"],
        ["test", "rules", "--coverage"],
    ],
    ids=["eval", "explain", "test-coverage"],
)  # fmt: skip
def test_text_output_to_a_non_unicode_stream_falls_back_to_ascii(
    encoding: str, argv: list[str]
) -> None:
    env = {**os.environ, "PYTHONIOENCODING": encoding, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "policy", *argv], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode("ascii", "replace")
    assert b"Traceback" not in done.stderr
    done.stdout.decode(encoding)  # every byte is in the stream's encoding
    if argv[0] == "explain":
        assert b" -> " in done.stdout  # the arrow's stand-in, not a '?'


# -------------------------------------------------------------- 7. a file named twice


def test_check_counts_a_file_named_twice_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(["check", str(NORTHWIND), str(NORTHWIND / "tenant.yaml")], capsys)
    once_code, once_out, _ = cli(["check", str(NORTHWIND)], capsys)
    assert code == once_code
    assert out == once_out


# -------------------------------------------------------------- 11. umask


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".xlsx"])
def test_rate_outputs_honour_the_umask(
    suffix: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / f"usage{suffix}"
    rejects = tmp_path / "bad.csv"
    old = os.umask(0o022)
    try:
        code, _, err = cli(
            [
                "rate", "--tenant", str(RATE / "tenant.yaml"),
                "--calls", str(RATE / "bad_calls.csv"), "--out", str(out),
                "--skip-bad", "--rejects", str(rejects), "--no-progress",
            ],
            capsys,
        )  # fmt: skip
    finally:
        os.umask(old)
    assert code == 0, err
    assert out.stat().st_mode & 0o777 == 0o644
    assert rejects.stat().st_mode & 0o777 == 0o644


# -------------------------------------------------------------- 18. ledger fund amounts


def test_ledger_fund_prints_amounts_with_the_balance_places(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}", "--tenant", str(EXAMPLES / "tenant.yaml")]
    assert cli(["ledger", "init", *db], capsys)[0] == 0
    code, out, _ = cli(["ledger", "fund", "25", *db, "--format", "text"], capsys)
    assert code == 0
    assert "purchase: 25.00 of 25.00" in out
    code, out, _ = cli(["ledger", "balance", *db], capsys)
    lots = json.loads(out)["lots"]
    assert [lot["amount"] for lot in lots] == ["50.00", "25.00"]


# -------------------------------------------------------------- 19. help texts


@pytest.mark.parametrize(
    "argv",
    [["report", name] for name in ("pools", "usage", "funding")]
    + [
        ["ledger", name]
        for name in ("init", "fund", "balance", "authorize", "charge", "history", "pools", "notify")
    ],
)
def test_every_subcommand_help_has_a_description_and_exit_codes(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli([*argv, "--help"], capsys)
    assert code == 0
    text = " ".join(out.split())
    assert "Exit 0" in text and "2 usage" in text


# -------------------------------------------------------------- 20. one name for repeats


def test_rate_summary_names_repeats_alike_in_text_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["rate", "--tenant", str(RATE / "tenant.yaml"), "--calls", str(RATE / "calls.csv")]
    _, text, _ = cli([*argv, "--out", str(tmp_path / "a.csv")], capsys)
    _, js, _ = cli([*argv, "--out", str(tmp_path / "b.csv"), "--format", "json"], capsys)
    assert "repeated ids 1" in text
    assert json.loads(js)["repeated_ids"] == 1 and "duplicates" not in json.loads(js)


# -------------------------------------------------------------- 14. funding progress


def test_funding_reports_progress_over_every_replay() -> None:
    import policy
    from policy.rating.funding import advise, parse_candidates

    engine = policy.load(rates=RATE / "funding_rates.csv")
    tenant = policy.Tenant.from_file(RATE / "funding_tenant.yaml")
    ticks: list[tuple[int, float | None]] = []
    advise(
        engine,
        tenant,
        RATE / "funding_history.csv",
        parse_candidates("10:50,75:100"),
        tick=lambda rows, share: ticks.append((rows, share)),
    )
    shares = [s for _, s in ticks if s is not None]
    assert len(ticks) == 3  # two candidates and the chosen one's series
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert ticks[-1][0] == 3 * 121


def test_funding_command_draws_a_progress_bar_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import policy.rating.progress as progress

    monkeypatch.setattr(progress, "wants_progress", lambda stream: True)
    code, out, err = cli(
        [
            "report", "funding", "--tenant", str(RATE / "funding_tenant.yaml"),
            "--history", str(RATE / "funding_history.csv"),
            "--rates", str(RATE / "funding_rates.csv"), "--candidates", "75:100",
        ],
        capsys,
    )  # fmt: skip
    assert code == 0 and "recharges" in out
    assert "replaying" in err and "rows" in err


# -------------------------------------------------------------- 12. the funding chart


def test_funding_series_shows_the_low_point_the_table_reports(tmp_path: Path) -> None:
    import policy
    from policy.rating.funding import advise, parse_candidates, write_chart

    engine = policy.load(rates=RATE / "funding_rates.csv")
    tenant = policy.Tenant.from_file(RATE / "funding_tenant.yaml")
    advice = advise(engine, tenant, RATE / "funding_history.csv", parse_candidates("50:50"))
    best = advice.best
    assert best.recharges > 0
    values = [v for _, v in best.series]
    assert min(values) == best.lowest < best.candidate.trigger  # the dip before a recharge
    assert max(values) > best.candidate.trigger  # and the balance after it
    chart = tmp_path / "c.png"
    write_chart(advice, chart)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -------------------------------------------------------------- 16. did you mean


def test_a_misspelt_command_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(["chek"], capsys)
    assert code == 2 and "hint: did you mean 'check'?" in err
    code, _, err = cli(["report", "usag", "--rated", "x.csv"], capsys)
    assert code == 2 and "hint: did you mean 'usage'?" in err


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_misspelt_call_context_gets_did_you_mean(
    suffix: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = tmp_path / f"calls{suffix}"
    if suffix == ".csv":
        calls.write_text(
            "id,direction,context,to,start\na,outbound,usr,+12125551234,2026-11-02T09:05:00Z\n"
        )
    else:
        calls.write_text(
            '{"id": "a", "direction": "outbund", "to": "+12125551234", '
            '"start": "2026-11-02T09:05:00Z"}\n'
        )
    code, _, err = cli(
        ["rate", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls", str(calls),
         "--out", str(tmp_path / "o.csv")],
        capsys,
    )  # fmt: skip
    assert code == 1
    assert ("did you mean 'user'?" if suffix == ".csv" else "did you mean 'outbound'?") in err


# -------------------------------------------------------------- 17. a missing condition


@pytest.mark.parametrize("joiner", ["and", "or", "not"])
def test_a_missing_condition_after_and_is_named(joiner: str) -> None:
    from policy.language.parser import parse
    from policy.support.errors import PolicySyntaxError

    text = f'scenario i "I": when inbound {joiner}\n    then free\n'
    with pytest.raises(PolicySyntaxError) as caught:
        parse(text.replace("inbound not", "not"), "p.ccp")
    finding = caught.value.finding
    assert finding.message == f"a condition is missing after '{joiner}' (found 'then')"
    assert "statement starts with" not in (finding.hint or "")
    assert (finding.location.line, finding.location.column) == (2, 5)  # type: ignore[union-attr]


# -------------------------------------------------------------- 8. one calls reader


def _calls_csv(path: Path, rows: int = 0, *, bad: int = 0) -> Path:
    """examples/calls.yaml as a CSV of call columns (plus generated rows)."""
    import csv

    import yaml

    calls = yaml.safe_load((EXAMPLES / "calls.yaml").read_text(encoding="utf-8"))
    columns = ["id", "direction", "context", "user", "from", "to", "start", "duration"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for call in calls:
            writer.writerow([call.get(c, "") for c in columns])
        for n in range(rows):
            direction = "outbund" if n < bad else "outbound"
            writer.writerow(
                [f"g{n}", direction, "user", "alice@contoso.com", "", "+12125551234",
                 "2026-11-03T09:00:00-05:00", "60"]
            )  # fmt: skip
    return path


def test_eval_reads_a_calls_csv_as_it_reads_yaml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant = str(EXAMPLES / "tenant.yaml")
    _, from_yaml, _ = cli(
        ["eval", "--tenant", tenant, "--calls", str(EXAMPLES / "calls.yaml")], capsys
    )
    code, from_csv, err = cli(
        ["eval", "--tenant", tenant, "--calls", str(_calls_csv(tmp_path / "calls.csv"))], capsys
    )
    assert code == 0, err

    def strip(out: str) -> list[dict[str, object]]:  # traces name the file and line
        return [{k: v for k, v in json.loads(x).items() if k != "trace"} for x in out.splitlines()]

    assert strip(from_csv) == strip(from_yaml)


@pytest.mark.parametrize("command", ["eval", "diff", "explain", "charge", "check"])
def test_a_bad_calls_csv_is_reported_briefly_everywhere(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = _calls_csv(tmp_path / "calls.csv", rows=5000, bad=30)
    tenant = str(EXAMPLES / "tenant.yaml")
    argv = {
        "eval": ["eval", "--tenant", tenant, "--calls", str(calls)],
        "diff": ["diff", "rules", "rules", "--tenant", tenant, "--calls", str(calls)],
        "explain": ["explain", "--tenant", tenant, "--calls", str(calls)],
        "charge": ["ledger", "charge", "--db", f"sqlite:///{tmp_path / 'l.db'}",
                   "--tenant", tenant, "--calls", str(calls)],
        "check": ["check", str(calls)],
    }[command]  # fmt: skip
    code, out, err = cli(argv, capsys)
    report = out if command == "check" else err
    assert code == 1
    assert "rate card" not in report and "Traceback" not in report
    assert report.count("row ") == 20  # every bad row up to the cap, each with its place
    assert "calls.csv:20: row 19: direction: 'outbund'" in report
    assert re.search(r"\n\S+calls.csv: error: 1[01] more bad rows not shown", report)
    assert len(report) < 8000  # a short excerpt per row, never the file
    if command != "check":
        assert out == ""


def test_eval_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io

    import yaml

    calls = yaml.safe_load((EXAMPLES / "calls.yaml").read_text(encoding="utf-8"))
    lines = "".join(json.dumps(c) + "\n" for c in calls).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines)))
    code, out, err = cli(
        ["eval", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls", "-", "--format", "text"],
        capsys,
    )
    assert code == 0, err
    assert out.endswith(f"{len(calls)} calls: 12 permitted, 6 denied\n")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        ('[{"id": "a"}]', "json"),
        ('{"id": "a", "to": "+1"}\n{"id": "b"}\n', "jsonl"),
        ('{\n  "id": "a"\n}\n', "json"),
        ("id,direction,to,start\n", "csv"),
        ("Call ID,Call Type,Start Time\n", "csv"),
        ("- {id: a}\n", "yaml"),
        ("prefix,destination,rate\n", "yaml"),
    ],
)
def test_the_calls_format_is_told_by_content(text: str, fmt: str) -> None:
    from policy.rating.cdr import sniff_calls_format

    assert sniff_calls_format(text) == fmt


def test_a_calls_file_without_a_known_extension_is_read_by_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = _calls_csv(tmp_path / "calls.csv")
    exported = tmp_path / "export.txt"
    exported.write_bytes(calls.read_bytes())
    code, out, err = cli(
        ["eval", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls", str(exported),
         "--format", "text"],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.endswith("18 calls: 12 permitted, 6 denied\n")


def test_a_yaml_calls_file_above_the_limit_is_refused_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import policy.rating.cdr as cdr

    size = (EXAMPLES / "calls.yaml").stat().st_size
    monkeypatch.setattr(cdr, "MAX_WHOLE_CALLS_BYTES", size - 1)
    code, out, err = cli(
        [
            "eval",
            "--tenant",
            str(EXAMPLES / "tenant.yaml"),
            "--calls",
            str(EXAMPLES / "calls.yaml"),
        ],
        capsys,
    )
    assert code == 1 and out == ""
    assert f"{size:,} bytes" in err and "JSON Lines" in err


def test_eval_streams_json_lines_and_keeps_repeats_right(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from policy.rating.cdr import open_calls

    calls = tmp_path / "calls.jsonl"
    rows = [
        {"id": "dup" if n % 100 == 0 else f"c{n}", "direction": "outbound",
         "user": "alice@contoso.com", "to": "+12125551234",
         "start": "2026-11-03T09:00:00-05:00", "duration": 60}
        for n in range(1000)
    ]  # fmt: skip
    calls.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with open_calls(calls) as source:
        checked = source.checked()
        assert checked._calls is None  # streamed: read twice, never held
        assert len(checked) == 1000
        assert checked.may_repeat("dup") and not checked.may_repeat("c1")
    code, out, err = cli(
        ["eval", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls", str(calls)], capsys
    )
    assert code == 0, err
    decisions = [json.loads(line) for line in out.splitlines()]
    repeats = [d for d in decisions if d["call"] == "dup"]
    assert len(decisions) == 1000 and len(repeats) == 10
    assert all(d == repeats[0] for d in repeats)  # a repeat returns the first decision


def test_rate_without_skip_bad_reports_every_bad_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = _calls_csv(tmp_path / "calls.csv", rows=100, bad=3)
    out = tmp_path / "o.csv"
    code, _, err = cli(
        ["rate", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls", str(calls),
         "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 1 and not out.exists()
    assert [n for n in (1, 2, 3) if f"row {18 + n}: direction" in err] == [1, 2, 3]


# -------------------------------------------------------------- 21. README's library code


def test_the_readme_library_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Library", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(code.replace("    ...\n", "    pass\n"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("c01 True free ") and len(out.splitlines()) == 18


# -------------------------------------------------------------- 15. every bad rate-card row


def test_a_short_rate_card_row_hides_no_other_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    card = tmp_path / "r.csv"
    card.write_text(
        "prefix,destination,number_type,origin,connect_fee,rate,rate_unit,increment,"
        "from_second,days\n1,US,,,0.00,0.013,60,60,0,\n44,UK,,,0.00,abc,60,60,0\n"
        "33,FR,,,0.00,xyz,60,60,0,\n"
    )
    code, out, _ = cli(["check", str(card)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith(
        "r.csv:3: error: row has 9 cells; the header has 10 columns (no cell for days)"
    )
    assert "days:" not in out  # not blamed on a column
    assert lines[1].endswith("r.csv:4: rate: 'xyz' is not a decimal")
    assert out.endswith("2 errors, 0 warnings\n")


# -------------------------------------------------------------- 13. usage by local date


def test_report_usage_groups_by_the_calls_local_date(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import yaml

    calls = yaml.safe_load((EXAMPLES / "calls.yaml").read_text(encoding="utf-8"))
    c06 = next(c for c in calls if c["id"] == "c06")  # paid from credits
    # a long call on 2 Nov in Sydney (1 Nov 22:00 UTC), a short one on 1 Nov in New York
    # (2 Nov 01:00 UTC): by UTC day the dates would swap
    early = {**c06, "id": "au", "start": "2026-11-02T09:00:00+11:00", "duration": 1200}
    late = {**c06, "id": "us", "start": "2026-11-01T20:00:00-05:00", "duration": 60}
    (tmp_path / "calls.yaml").write_text(yaml.safe_dump([early, late]))
    rated = tmp_path / "usage.csv"
    code, _, err = cli(
        ["rate", "--tenant", str(EXAMPLES / "tenant.yaml"), "--calls",
         str(tmp_path / "calls.yaml"), "--out", str(rated)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    code, out, _ = cli(["report", "usage", "--rated", str(rated), "--format", "json"], capsys)
    per_day = json.loads(out)["credits_per_day"]
    assert list(per_day) == ["2026-11-01", "2026-11-02"]
    assert Decimal(per_day["2026-11-02"]) > Decimal(per_day["2026-11-01"])


# -------------------------------------------------------------- 5. which policy


BROKEN_POLICY = """\
credits licence cc
scenario c "C": when outbound then credits of user
scenario i "I": when inbound then free
notify balance_zero to nobody
"""


@pytest.mark.parametrize("command", ["check", "test", "analyze"])
def test_no_path_in_the_authors_directory_checks_the_authors_policy(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "p.ccp").write_text(BROKEN_POLICY)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli([command], capsys)
    assert code == 1, (out, err)  # the author's broken policy, not the bundled rules
    assert "note: policy: the .ccp files in the current directory" in err


@pytest.mark.parametrize("command", ["check", "test", "analyze"])
def test_no_path_and_no_policy_here_is_a_usage_error_not_a_green(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli([command], capsys)
    assert code == 2 and out == ""
    assert "no PATH given and no .ccp files in the current directory" in err
    assert f"ccpolicy {command} bundled" in err
    code, _, _ = cli([command, "bundled"], capsys)
    assert code == 0


def test_eval_without_rules_in_a_policy_directory_uses_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(NORTHWIND)
    code, out, err = cli(["eval", "--tenant", "tenant.yaml", "--calls", "calls.yaml"], capsys)
    assert code == 0, err
    assert "note: policy: the .ccp files in the current directory" in err
    assert '"file": "scenarios.ccp"' in out or "scenarios.ccp" in out


def test_diff_takes_bundled_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        ["diff", "bundled", "bundled", "--tenant", str(EXAMPLES / "tenant.yaml"),
         "--calls", str(EXAMPLES / "calls.yaml")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "0 of 18 calls changed" in out


# -------------------------------------------------------------- 3. tenant usage keys


def _tenant_with_usage(tmp_path: Path, usage: str) -> Path:
    text = (EXAMPLES / "tenant.yaml").read_text(encoding="utf-8")
    text = text.replace('  "domestic_calling_plan:US:domestic": 5990', usage)
    assert usage in text
    path = tmp_path / "tenant.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_usage_key_is_an_error_with_did_you_mean(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant = _tenant_with_usage(tmp_path, '  "domestic_calling_plan:US:domestc": 2390')
    code, out, _ = cli(["check", "--rules", "bundled", str(tenant)], capsys)
    assert code == 1
    assert (
        'tenant.yaml:37: usage["domestic_calling_plan:US:domestc"]: '
        "'domestic_calling_plan:US:domestc' is not a pool of this tenant" in out
    )
    assert "did you mean 'domestic_calling_plan:US:domestic'?" in out
    code, out, err = cli(
        ["eval", "--tenant", str(tenant), "--calls", str(EXAMPLES / "calls.yaml")], capsys
    )
    assert code == 1 and out == "" and "is not a pool of this tenant" in err


def test_usage_above_a_pools_size_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tenant = _tenant_with_usage(tmp_path, '  "domestic_calling_plan:US:domestic": 99999')
    code, out, _ = cli(["check", "--rules", "bundled", str(tenant)], capsys)
    assert code == 0
    assert "warning: usage" in out and "99,999 minutes used of a" in out
    assert cli(["check", "--strict", "--rules", "bundled", str(tenant)], capsys)[0] == 1


# -------------------------------------------------------------- 4. currency as eval sees it


def test_check_reports_the_currency_eval_would_refuse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (EXAMPLES / "tenant.yaml").read_text(encoding="utf-8")
    assert "currency: USD" in text
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(text.replace("currency: USD", "currency: EUR"), encoding="utf-8")
    code, _, err = cli(
        ["eval", "--tenant", str(tenant), "--calls", str(EXAMPLES / "calls.yaml")], capsys
    )
    assert code == 1 and "priced in USD" in err  # eval refuses …
    code, out, _ = cli(["check", "--rules", "bundled", str(tenant)], capsys)
    assert code == 1  # … so check does too
    assert (
        "currency: the tenant pays in EUR but the rate card rules/rates.csv is priced in USD" in out
    )
    code, out, _ = cli(["check", str(NORTHWIND)], capsys)
    assert code == 0, out  # a policy with its own card in the tenant's currency


# -------------------------------------------------------------- 6. a missing --rules


@pytest.mark.parametrize("command", ["eval", "pools"])
def test_a_non_teams_tenant_without_rules_is_told_rules_is_missing(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)  # no .ccp here: the bundled rules are used
    tenant = str(NORTHWIND / "tenant.yaml")
    argv = {
        "eval": ["eval", "--tenant", tenant, "--calls", str(NORTHWIND / "calls.yaml")],
        "pools": ["report", "pools", "--tenant", tenant, "--rated", str(RATE / "expected.csv")],
    }[command]
    code, out, err = cli(argv, capsys)
    assert code == 1 and out == ""
    assert "currency" not in err and "priced in" not in err
    assert "names of this tenant are unknown to the bundled rules" in err
    assert "is --rules missing?" in err
    assert err.count("\n") == 2  # one finding, one hint: not a screen of licence errors


def test_report_pools_needs_no_rate_card(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a policy whose own rate card is in another currency than the tenant's
    for name in ("catalog.ccp", "scenarios.ccp"):
        (tmp_path / name).write_bytes((NORTHWIND / name).read_bytes())
    (tmp_path / "rates.csv").write_bytes((NORTHWIND / "rates.csv").read_bytes())
    sidecar = (NORTHWIND / "rates.yaml").read_text(encoding="utf-8")
    tenant_text = (NORTHWIND / "tenant.yaml").read_text(encoding="utf-8")
    currency = next(
        line.split(":", 1)[1].strip()
        for line in tenant_text.splitlines()
        if line.startswith("currency:")
    )
    other = "JPY" if currency != "JPY" else "USD"
    (tmp_path / "rates.yaml").write_text(sidecar.replace(currency, other), encoding="utf-8")
    code, out, err = cli(
        ["report", "pools", "--tenant", str(NORTHWIND / "tenant.yaml"), "--rules", str(tmp_path),
         "--rated", str(RATE / "expected.csv")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("Minute pools")


# -------------------------------------------------------------- 9. built-in sentences


def test_built_in_denials_use_the_policys_credits_title() -> None:
    import policy

    northwind = policy.load(NORTHWIND).policy.catalog
    assert northwind.sentence_of("no_credits_license") == (
        "The user has no Northwind prepaid top-up licence, so the call cannot be paid from credits."
    )
    assert northwind.sentence_of("credits_not_set_up") == (
        "Northwind prepaid top-up is not set up for this organisation."
    )
    bundled = policy.load().policy.catalog  # the bundled sentences are unchanged
    assert bundled.sentence_of("no_credits_license") == (
        "The user has no Communications Credits licence, so the call cannot be paid from credits."
    )
    assert bundled.sentence_of("credits_not_set_up") == (
        "Communications Credits are not set up for this organisation."
    )
    assert bundled.sentence_of("balance_exhausted") == (
        "The Communications Credits balance is used up."
    )


# -------------------------------------------------------------- 10. capability codes


def _rated_capabilities(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, rules: Path
) -> dict[str, str]:
    import csv

    out = tmp_path / "usage.csv"
    code, _, err = cli(
        ["rate", "--rules", str(rules), "--tenant", str(NORTHWIND / "tenant.yaml"),
         "--calls", str(NORTHWIND / "calls.yaml"), "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    with open(out, newline="", encoding="utf-8") as handle:
        return {
            row["Call ID"]: row["Capability"]
            for row in csv.DictReader(handle)
            if row["paid_by"] == "plan"
        }


def test_a_policys_own_plan_calls_get_no_teams_capability_code(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    codes = _rated_capabilities(capsys, tmp_path, NORTHWIND)
    assert codes and set(codes.values()) == {""}  # undeclared: empty, never MCOPSTNPP


def test_capability_codes_come_from_the_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in NORTHWIND.iterdir():
        if path.is_file():
            (rules / path.name).write_bytes(path.read_bytes())
    plans = [
        line.split()[1]
        for line in (rules / "catalog.ccp").read_text(encoding="utf-8").splitlines()
        if line.startswith("plan ")
    ]
    with open(rules / "catalog.ccp", "a", encoding="utf-8") as handle:
        handle.write("\n" + "".join(f'capability "NW-{p.upper()}" for {p}\n' for p in plans))
    code, out, _ = cli(["check", str(rules)], capsys)
    assert code == 0, out
    codes = _rated_capabilities(capsys, tmp_path, rules)
    assert codes and all(v.startswith("NW-") for v in codes.values())


def test_capability_statements_are_checked_and_formatted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from policy.language.format import format_text

    text = (
        "credits licence cc\nplan basic { pool domestic: 100 minutes per user }\n"
        'capability "X1" for basic,credits\ncapability "X2" for basik, credits\n'
        'scenario c "C": when outbound then credits of user\n'
        'scenario i "I": when inbound then free\n'
    )
    (tmp_path / "p.ccp").write_text(text, encoding="utf-8")
    code, out, _ = cli(["check", str(tmp_path)], capsys)
    assert code == 1
    assert "unknown capability target 'basik' (did you mean 'basic'?)" in out
    assert "'credits' already has a capability code" in out
    assert 'capability "X1" for basic, credits\n' in format_text(text, "p.ccp")
