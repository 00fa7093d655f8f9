"""What a new policy author tripped over (issue 15): each case fails without its fix."""

from __future__ import annotations

import os
import subprocess
import sys
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
