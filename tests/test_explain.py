"""``ccpolicy explain`` and ``eval --explain``: which clause decided, and why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import policy
from policy.cli import main
from policy.data.call import calls_from_document
from policy.data.documents import load_document
from policy.tools.explain import explain_run, render_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TENANT = str(EXAMPLES / "tenant.yaml")
CALLS = str(EXAMPLES / "calls.yaml")
SCENARIOS = ROOT / "rules" / "scenarios.ccp"

MINI = """\
licence teams_phone "Teams Phone"
credits licence communications_credits "Communications Credits"
plan calling_plan "Calling Plan" {
    pool domestic: 100 minutes per user
}
role billing_admin "Billing"
denial no_plan "No plan."
notify recharge_succeeded, recharge_failed, balance_zero to billing_admin

scenario emergency "Emergency is free":
    when outbound and to is emergency
    then free

scenario needs_plan "Plan required":
    when outbound and from user
    deny no_plan unless user has calling_plan
    then pool domestic, spill over to credits of user
"""

MINI_TENANT = """\
tenant: fabrikam
country: US
billing_country: US
currency: USD
credits: {balance: "5.00", funding: one_time, payment: ok}
admins:
  - {email: ann@fabrikam.com, roles: [billing_admin]}
users:
  - {upn: ana@fabrikam.com, usage_location: US, licenses: [teams_phone]}
"""

MINI_CALLS = """\
- {id: g1, direction: outbound, context: user, user: ana@fabrikam.com, to: "+12125551234",
   start: "2026-11-02T09:00:00-05:00", duration: 60}
- {id: g2, direction: inbound, context: user, user: ana@fabrikam.com, from: "+12125551234",
   to: "+14255550100", start: "2026-11-02T09:00:00-05:00", duration: 60}
"""


def _line_of(text: str, path: Path = SCENARIOS) -> int:
    """The 1-based line of ``text`` in ``path`` (golden places are read, not hard-coded)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["explain", "--tenant", TENANT, "--calls", CALLS, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "policy.ccp").write_text(MINI, encoding="utf-8")
    (tmp_path / "tenant.yaml").write_text(MINI_TENANT, encoding="utf-8")
    (tmp_path / "calls.yaml").write_text(MINI_CALLS, encoding="utf-8")
    return tmp_path


def test_denied_call_names_the_denying_clause_and_its_place_on_the_first_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _explain(capsys, "--id", "c13")
    assert code == 0
    first = out.splitlines()[0]
    line = _line_of("scenario no_calling_plan ")
    assert first.startswith("c13: DENIED no_calling_plan by scenario no_calling_plan")
    assert f"rules/scenarios.ccp:{line}" in first
    assert "`deny no_calling_plan`" in first


def test_failed_rules_show_the_first_failing_part_and_the_fact_behind_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _explain(capsys, "--id", "c04")
    line = _line_of("scenario domestic_call ")
    assert (
        f"✗ rules/scenarios.ccp:{line} domestic_call: destination is domestic — no: "
        "GB is international for a US user" in out
    )
    assert (
        "no_calling_plan: user has no calling plan — no: alice@contoso.com's calling plan "
        "is domestic_calling_plan" in out
    )
    # rules are listed in order, up to the deciding one and no further
    rules = out[out.index("Rules, in order") : out.index("Money")].splitlines()[1:]
    assert rules[0].startswith("  ✗ rules/scenarios.ccp:") and " emergency: " in rules[0]
    decided = [r for r in rules if r.startswith("  ✔")]
    assert decided == [
        f"  ✔ rules/scenarios.ccp:{_line_of('scenario international_on_domestic_plan ')} "
        "international_on_domestic_plan"
    ]
    assert rules[-1].startswith("  → decided by international_on_domestic_plan")
    assert "✔ outbound — the call is outbound" in out


def test_money_shows_rate_row_arithmetic_and_balance(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _explain(capsys, "--id", "c04")
    money = out[out.index("Money") :]
    assert "paid by credits" in money
    assert "prefix 44 United Kingdom (illustrative) [fixed_line]" in money
    assert "seconds 0–60: 1 × 60s step at 0.0240/60s = 1 × 0.024 = 0.024" in money
    assert "seconds 60–420: 360 × 1s step at 0.0240/60s = 360 × 0.0004 = 0.144" in money
    assert "total 0.168 → 0.17 USD (rounded half_up to 2 decimals)" in money
    # c02 and c03 ran first: c03 spilled 0.08 onto credits, so c04 starts from 49.92
    assert "balance 49.92 → 49.75 USD" in money


def test_spill_over_prices_only_the_tail_without_connect_fee(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _explain(capsys, "--id", "c03")
    assert (
        "pool domestic_calling_plan:US:domestic: 6000 min, 5995 used, 5 left → takes 5 min" in out
    )
    assert "seconds 300–600: 300 × 1s step" in out
    assert "connect fee 0" in out  # the row's fee is shown, but not charged on a tail
    assert "total 0.075 → 0.08 USD" in out


def test_engine_denials_say_so(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _explain(capsys, "--id", "c17")
    first = out.splitlines()[0]
    assert first.startswith("c17: DENIED unknown_user by the engine before any rule")
    assert "(none consulted)" in out


def test_money_denial_names_the_scenario_and_the_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = _explain(capsys, "--id", "c14")
    first = out.splitlines()[0]
    line = _line_of("scenario domestic_call ")
    assert first.startswith("c14: DENIED pool_exhausted by the engine's credit check")
    assert f"domestic_call at rules/scenarios.ccp:{line}" in first
    assert "has 0 of 6000 minutes left" in first
    assert "dana@contoso.com does not hold communications_credits" in first


def test_guard_and_gap(capsys: pytest.CaptureFixture[str], mini: Path) -> None:
    code = main(
        [
            "explain",
            "--tenant",
            str(mini / "tenant.yaml"),
            "--calls",
            str(mini / "calls.yaml"),
            "--rules",
            str(mini / "rules"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    guard_line = _line_of("deny no_plan unless", mini / "rules" / "policy.ccp")
    heads = [line for line in out.splitlines() if line.startswith("g")]
    assert heads[0].startswith(
        "g1: DENIED no_plan by `deny no_plan unless user has calling_plan` at "
    )
    assert f"policy.ccp:{guard_line} in scenario needs_plan" in heads[0]
    assert "denies: ana@fabrikam.com does not hold calling_plan" in out
    assert heads[1] == "g2: DENIED no_scenario: no scenario matches the call (2 considered)"


def test_json_is_structured(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "--id", "c13", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["call"] == "c13"
    assert data["decided_by"]["kind"] == "scenario"
    assert data["decided_by"]["scenario"] == "no_calling_plan"
    assert data["decided_by"]["line"] == _line_of("scenario no_calling_plan ")
    assert data["decided_by"]["denial"] == "no_calling_plan"
    assert data["facts"]["destination"]["country"] == "GB"
    assert data["facts"]["user"]["calling_plan"] is None
    assert data["rules"][-1]["matched"] is True
    assert all("failed" in step for step in data["rules"][:-1])
    assert data["decision"]["denial"] == "no_calling_plan"


def test_json_lines_for_a_whole_calls_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _explain(capsys, "--format", "json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["call"] for r in records] == [f"c{n:02d}" for n in range(1, 19)]


def test_single_call_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    call = tmp_path / "call.yaml"
    call.write_text(
        "{id: one, direction: outbound, context: user, user: alice@contoso.com, "
        'to: "911", start: "2026-11-02T09:00:00-05:00", duration: 60}\n',
        encoding="utf-8",
    )
    code = main(["explain", "--tenant", TENANT, "--call", str(call)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("one: PERMITTED by scenario emergency at rules/scenarios.ccp:")


def test_explained_decisions_equal_the_engines(engine: policy.Engine) -> None:
    tenant = policy.Tenant.from_file(TENANT)
    calls = list(calls_from_document(load_document(CALLS, schema="calls")))
    explained = [e.decision.to_dict() for e in explain_run(engine, calls, tenant)]
    assert explained == [d.to_dict() for d in engine.run(calls, tenant)]


def test_eval_explain_prints_the_same_account(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["eval", "--tenant", TENANT, "--calls", CALLS, "--format", "text", "--explain"]) == 0
    )
    eval_out = capsys.readouterr().out
    _, explain_out, _ = _explain(capsys)
    assert explain_out.strip() in eval_out
    assert eval_out.rstrip().endswith("18 calls: 12 permitted, 6 denied")


def test_repeated_call_id_is_marked(engine: policy.Engine) -> None:
    tenant = policy.Tenant.from_file(TENANT)
    call: dict[str, Any] = {
        "id": "r1",
        "direction": "outbound",
        "context": "user",
        "user": "alice@contoso.com",
        "to": "+442071838750",
        "start": "2026-11-02T09:20:00-05:00",
        "duration": 60,
    }
    first, second = explain_run(engine, [call, call], tenant)
    assert not first.repeat and second.repeat
    assert second.decision == first.decision
    assert "repeated call id" in render_text(second)


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--id", "nope"], 2, "no call 'nope'"),
        (["--rates", "/nonexistent/rates.csv"], 1, "rates.csv: error: file not found"),
    ],
)
def test_bad_usage_and_input(
    capsys: pytest.CaptureFixture[str], args: list[str], code: int, needle: str
) -> None:
    got, out, err = _explain(capsys, *args)
    assert got == code
    assert out == ""
    assert needle in err


def test_eval_explain_json_facts_follow_the_running_state(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "--tenant", TENANT, "--calls", CALLS, "--explain"]) == 0
    records = {r["call"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    # the tenant starts at 5990 used; c02 takes 5 minutes, c03 meets 5995 and spills 0.08
    assert records["c02"]["facts"]["user"]["pools"]["domestic"]["used"] == 5990
    assert records["c03"]["facts"]["user"]["pools"]["domestic"]["used"] == 5995
    assert records["c04"]["facts"]["credits"]["balance"] == "49.92"
