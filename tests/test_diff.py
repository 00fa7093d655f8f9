"""``ccpolicy diff``: two policies or two rate cards on the same call history."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import policy
from policy.cli import main
from policy.pricing.ratecard import RateCard
from policy.tools.diff import diff_runs, render_text

ROOT = Path(__file__).resolve().parent.parent
TENANT = str(ROOT / "examples" / "tenant.yaml")
RULES = str(ROOT / "rules")

HEADER = "prefix,destination,number_type,origin,connect_fee,rate,rate_unit,increment,from_second\n"
OLD_CARD = HEADER + "44,United Kingdom,,,0,0.0240,60,60,0\n1,North America,,,0,0.0130,60,60,0\n"
NEW_CARD = HEADER + "44,United Kingdom,,,0.05,0.0360,60,60,0\n1,North America,,,0,0.0130,60,60,0\n"
SIDECAR = "currency: USD\nrounding: {method: half_up, decimals: 2}\n"

HISTORY = """\
- {id: h1, direction: outbound, context: user, user: alice@contoso.com, to: "+442071838750",
   start: "2026-11-02T09:00:00-05:00", duration: 420}
- {id: h2, direction: outbound, context: user, user: alice@contoso.com, to: "+442071838750",
   start: "2026-11-02T10:00:00-05:00", duration: 90}
- {id: h3, direction: outbound, context: user, user: alice@contoso.com, to: "+12125551234",
   start: "2026-11-02T11:00:00-05:00", duration: 60}
- {id: h4, direction: outbound, context: user, user: eve@contoso.com, to: "+442071838750",
   start: "2026-11-02T12:00:00+00:00", duration: 60}
- {id: h5, direction: outbound, context: user, user: chen@contoso.com, to: "+16135550123",
   start: "2026-11-02T13:00:00-05:00", duration: 240}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    for name, text in (("old", OLD_CARD), ("new", NEW_CARD)):
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
        (tmp_path / f"{name}.yaml").write_text(SIDECAR, encoding="utf-8")
    (tmp_path / "history.yaml").write_text(HISTORY, encoding="utf-8")
    return {
        "old": str(tmp_path / "old.csv"),
        "new": str(tmp_path / "new.csv"),
        "calls": str(tmp_path / "history.yaml"),
    }


def _diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["diff", *args])
    return code, capsys.readouterr().out


def test_rate_card_diff_reports_changed_calls_with_exact_totals(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    code, out = _diff(
        capsys,
        RULES,
        RULES,
        "--tenant",
        TENANT,
        "--calls",
        files["calls"],
        "--old-rates",
        files["old"],
        "--new-rates",
        files["new"],
        "--format",
        "json",
    )
    assert code == 0
    report = json.loads(out)
    changes = {c["call"]: c for c in report["changes"]}
    # h1: 7 × 60 s at 0.024 = 0.168 → 0.17; new: 0.05 + 7 × 0.036 = 0.302 → 0.30
    # h2: 2 × 60 s at 0.024 = 0.048 → 0.05; new: 0.05 + 2 × 0.036 = 0.122 → 0.12
    # h5 (Pay-As-You-Go to Canada) is billed on the +1 row both times: unchanged
    assert set(changes) == {"h1", "h2"}
    assert changes["h1"]["changed"] == ["cost"]
    assert (changes["h1"]["old"]["cost"], changes["h1"]["new"]["cost"]) == ("0.17", "0.30")
    assert changes["h1"]["cost_delta"] == "0.13"
    assert (changes["h2"]["old"]["cost"], changes["h2"]["new"]["cost"]) == ("0.05", "0.12")
    totals = report["totals"]
    assert totals["calls"] == 5 and totals["changed"] == 2
    # h5: 4 × 60 s at 0.013 = 0.052 → 0.05 on both cards
    assert Decimal(totals["cost_old"]) == Decimal("0.27")
    assert Decimal(totals["cost_new"]) == Decimal("0.47")
    assert Decimal(totals["cost_delta"]) == Decimal("0.20")
    by = report["by_scenario"]["international_on_domestic_plan"]
    assert by == {
        "calls": 2,
        "changed": 2,
        "cost_old": "0.22",
        "cost_new": "0.42",
        "cost_delta": "0.20",
    }


def test_library_totals_are_decimals(engine: policy.Engine, files: dict[str, str]) -> None:
    tenant = policy.Tenant.from_file(TENANT)
    old = engine.with_rates(RateCard.from_file(files["old"]))
    new = engine.with_rates(RateCard.from_file(files["new"]))
    calls: list[dict[str, Any]] = [
        {
            "id": "x1",
            "direction": "outbound",
            "context": "user",
            "user": "alice@contoso.com",
            "to": "+442071838750",
            "start": "2026-11-02T09:00:00-05:00",
            "duration": 420,
        }
    ]
    report = diff_runs(old, new, [policy.Call.from_dict(c) for c in calls], tenant)
    assert report.cost_old == Decimal("0.17")
    assert report.cost_new == Decimal("0.30")
    assert report.delta == Decimal("0.13")
    assert isinstance(report.delta, Decimal)
    text = render_text(report)
    assert "x1: cost 0.17 → 0.30  [international_on_domestic_plan]" in text
    assert "1 of 1 calls changed; cost 0.17 → 0.30 USD (delta +0.13 USD)" in text


def test_policy_diff_reports_permission_payer_and_denial(
    capsys: pytest.CaptureFixture[str], files: dict[str, str], tmp_path: Path
) -> None:
    new_rules = tmp_path / "new_rules"
    shutil.copytree(RULES, new_rules)
    scenarios = new_rules / "scenarios.ccp"
    text = scenarios.read_text(encoding="utf-8")
    old_rule = (
        "when outbound and from user and user's plan is pay_as_you_go_calling_plan\n"
        "    then credits of user"
    )
    assert old_rule in text
    scenarios.write_text(
        text.replace(
            old_rule,
            "when outbound and from user and user's plan is pay_as_you_go_calling_plan\n"
            "    deny no_calling_plan",
        ),
        encoding="utf-8",
    )
    args = [RULES, str(new_rules), "--tenant", TENANT, "--calls", files["calls"]]
    code, out = _diff(capsys, *args)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("h5:"))
    assert "permitted yes → no" in line
    assert "paid_by credits → none" in line
    assert "denial - → no_calling_plan" in line
    assert "[pay_as_you_go]" in line
    assert "1 of 5 calls changed" in out
    code, _ = _diff(capsys, *args, "--fail-on-change")
    assert code == 1


def test_identical_policies_change_nothing(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    args = [RULES, RULES, "--tenant", TENANT, "--calls", files["calls"], "--fail-on-change"]
    code, out = _diff(capsys, *args)
    assert code == 0
    assert out.startswith("no call is decided differently")
    assert "0 of 5 calls changed" in out


def test_bad_input_exits_1_and_prints_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = tmp_path / "bad.yaml"
    calls.write_text("- {id: b1, direction: sideways}\n", encoding="utf-8")
    assert main(["diff", RULES, RULES, "--tenant", TENANT, "--calls", str(calls)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "bad.yaml" in captured.err


def test_missing_tenant_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["diff", RULES, RULES, "--calls", "x.yaml"])
    assert exc.value.code == 2
    assert "--tenant" in capsys.readouterr().err
