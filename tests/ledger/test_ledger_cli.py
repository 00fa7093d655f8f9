"""``ccpolicy ledger``: outputs, exit codes, located errors, nothing written on bad input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from ledger_support import MONTH, make_call, tenant_data

from policy.cli import main


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(tenant_data()))
    calls = tmp_path / "calls.yaml"
    calls.write_text(yaml.safe_dump([make_call("c1"), make_call("c2", duration=3000)]))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump([make_call("b1"), make_call("b2", to="+1")]))
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(tenant_data(tenant="fabrikam")))
    return {"tenant": str(tenant), "calls": str(calls), "bad": str(bad), "other": str(other)}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["ledger", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_round_trip(
    db_url: str, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--db", db_url, "--tenant", files["tenant"]]
    code, out, _ = run(capsys, "init", *common, "--month", MONTH)
    assert code == 0 and json.loads(out)["created"] is True
    code, out, _ = run(capsys, "charge", *common, "--calls", files["calls"])
    first = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [d["cost"]["amount"] for d in first] == ["0.17", "1.20"]
    code, out, _ = run(capsys, "charge", *common, "--calls", files["calls"])
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == first
    code, out, _ = run(capsys, "fund", "30.00", *common)
    assert code == 0 and json.loads(out)["balance"] == "48.63"
    code, out, _ = run(capsys, "balance", *common, "--format", "text")
    assert code == 0 and "balance 48.63 USD" in out
    code, out, _ = run(capsys, "history", *common)
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert kinds == ["initial", "charge", "charge", "purchase"]
    code, out, _ = run(capsys, "pools", *common, "--month", MONTH)
    assert code == 0 and any(json.loads(r)["used"] == 2950 for r in out.splitlines())
    code, out, _ = run(capsys, "authorize", *common, "--calls", files["calls"])
    assert code == 0 and all("max_duration" in json.loads(r) for r in out.splitlines())
    code, out, _ = run(capsys, "notify", *common, "--dry-run")
    assert code == 0 and json.loads(out) == {"sent": [], "failed": [], "pending": []}


def test_cli_bad_input_is_refused_and_writes_nothing(
    db_url: str, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--db", db_url, "--tenant", files["tenant"]]
    assert run(capsys, "init", *common, "--month", MONTH)[0] == 0
    code, out, err = run(capsys, "charge", *common, "--calls", files["bad"])
    assert code == 1 and out == "" and "Traceback" not in err and "bad.yaml" in err
    code, out, err = run(capsys, "fund", "-5", *common)
    assert code == 1 and "must be positive" in err
    code, out, err = run(capsys, "balance", "--db", db_url, "--tenant", files["other"])
    assert code == 1 and "other.yaml:" in err and "'fabrikam' is not in the ledger" in err
    code, out, err = run(capsys, "history", *common)
    assert [json.loads(line)["kind"] for line in out.splitlines()] == ["initial"]
    for url, text in (
        ("postgresql://nobody@127.0.0.1:1/x", "cannot reach database"),
        ("nonsense", "malformed database URL"),
    ):
        code, out, err = run(capsys, "balance", "--db", url, "--tenant", files["tenant"])
        assert code == 1 and text in err and "Traceback" not in err
    code, out, err = run(capsys, "notify", *common)
    assert code == 1 and "no delivery channel" in err
    with pytest.raises(SystemExit) as usage:
        main(["ledger", "balance", "--db", db_url])
    assert usage.value.code == 2


def test_cli_recover(
    db_url: str, files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import datetime, timezone

    from policy.ledger.store import connect, purchases

    common = ["--db", db_url, "--tenant", files["tenant"]]
    assert run(capsys, "init", *common, "--month", MONTH)[0] == 0
    code, out, _ = run(capsys, "recover", *common, "--format", "text")
    assert code == 0 and out == "no pending purchases\n"
    db = connect(db_url, create=False)  # a purchase left pending by a process that died
    try:
        with db.begin() as conn:
            conn.execute(
                purchases.insert().values(
                    tenant_id=1,
                    kind="purchase",
                    ref="p-9",
                    attempt=1,
                    key="contoso/purchase/p-9",
                    amount=Decimal("40.00"),
                    status="pending",
                    created_at=datetime(2026, 3, 2, tzinfo=timezone.utc),
                )
            )
    finally:
        db.dispose()
    code, out, _ = run(capsys, "recover", *common)
    assert code == 0 and json.loads(out) == {
        "kind": "purchase",
        "ref": "p-9",
        "amount": "40.00",
        "status": "paid",
        "reason": None,
    }
    code, out, _ = run(capsys, "balance", *common)
    assert json.loads(out)["balance"] == "60.00"
    code, out, err = run(capsys, "balance", *common, "--payment-timeout", "0")
    assert code == 2 and "--payment-timeout must be positive" in err


def test_cli_refuses_an_impossible_duration(
    db_url: str, files: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text(yaml.safe_dump([make_call("c1"), make_call("u1", duration=4294967295)]))
    common = ["--db", db_url, "--tenant", files["tenant"]]
    assert run(capsys, "init", *common, "--month", MONTH)[0] == 0
    code, out, err = run(capsys, "charge", *common, "--calls", str(huge))
    assert code == 1 and out == "" and "duration" in err and "at most 86400" in err
    assert "Traceback" not in err
    code = main(["eval", "--tenant", files["tenant"], "--calls", str(huge)])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and "duration" in err and "at most 86400" in err
