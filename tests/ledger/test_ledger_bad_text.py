"""A lone UTF-16 surrogate in a JSON calls file is bad input for ``ledger charge``: a
located error before anything is written, on both backends (never a traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ledger_support import MONTH, make_call, tenant_data

from policy.cli import main


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_lone_surrogate_call_id_is_refused_and_nothing_is_charged(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(tenant_data()))
    good = json.dumps(make_call("c1"))
    bad = json.dumps(make_call("PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800")
    calls = tmp_path / f"calls{suffix}"
    calls.write_text(f"[{good},\n{bad}]\n" if suffix == ".json" else f"{good}\n{bad}\n")
    common = ["--db", db_url, "--tenant", str(tenant)]
    assert main(["ledger", "init", *common, "--month", MONTH]) == 0
    capsys.readouterr()
    code = main(["ledger", "charge", *common, "--calls", str(calls)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    where = "[1].id" if suffix == ".json" else "row 2: id"  # JSON Lines: streamed, by row
    assert f"calls{suffix}:2: {where}: text holds a lone UTF-16 surrogate" in err
    assert "Traceback" not in err
    assert main(["ledger", "history", *common]) == 0
    out, _ = capsys.readouterr()
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["initial"]
