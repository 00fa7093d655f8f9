"""The funding advisor on a synthetic history with a known best answer."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import policy
from policy.cli import main
from policy.rating.funding import Candidate, advise, parse_candidates, replay

DATA = Path(__file__).parent / "data" / "rate"
TENANT = DATA / "funding_tenant.yaml"
HISTORY = DATA / "funding_history.csv"  # 30 days × 4 calls of $4.10, one call of $70.10
RATES = DATA / "funding_rates.csv"  # +44: $0.10 connect fee + $1.00 a minute


@pytest.fixture(scope="module")
def engine() -> policy.Engine:
    return policy.load(rates=RATES)


def test_replay_counts_recharges_and_spend(engine: policy.Engine) -> None:
    tenant = policy.Tenant.from_file(TENANT)
    outcome = replay(engine, tenant, HISTORY, Candidate(Decimal(75), Decimal(100)))
    assert outcome.calls == 121
    assert outcome.spent == Decimal("4.10") * 120 + Decimal("70.10")
    # every recharge buys 100: start 100 + recharges × 100 − spent = the final balance
    assert outcome.recharges * 100 == outcome.recharged
    assert outcome.refused == [] and outcome.lowest > 0


def test_the_known_best_candidate_is_recommended(engine: policy.Engine) -> None:
    tenant = policy.Tenant.from_file(TENANT)
    candidates = parse_candidates("10:50,75:100,75:500,200:500")
    advice = advise(engine, tenant, HISTORY, candidates)
    by_setting = {(o.candidate.trigger, o.candidate.amount): o for o in advice.outcomes}
    # $10/$50 cannot absorb the $70.10 call: the balance goes below zero
    assert not by_setting[(Decimal(10), Decimal(50))].safe
    assert by_setting[(Decimal(10), Decimal(50))].lowest < 0
    # a trigger of 75 always covers it; buying 100 ties up less money than 500
    assert advice.best.candidate == Candidate(Decimal(75), Decimal(100))
    assert (
        by_setting[(Decimal(75), Decimal(100))].average
        < by_setting[(Decimal(75), Decimal(500))].average
    )
    assert "100 USD" in advice.reason and "below 75" in advice.reason
    assert advice.best.series and advice.best.daily


def test_minimum_purchase_is_respected() -> None:
    with pytest.raises(ValueError, match="at least 50"):
        parse_candidates("10:25")
    with pytest.raises(ValueError, match="TRIGGER:AMOUNT"):
        parse_candidates("10")


def test_cli_prints_a_table_and_writes_a_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    chart = tmp_path / "funding.png"
    argv = [
        "report", "funding", "--tenant", str(TENANT), "--history", str(HISTORY),
        "--rates", str(RATES), "--candidates", "10:50,75:100,75:500", "--chart", str(chart),
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "recharges" in out and "lowest balance" in out and "refused calls" in out
    assert "Recharging 100 USD when the balance falls below 75" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([*argv[:-2], "--format", "json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["recommended"] == {"trigger": "75", "amount": "100"}


def test_cli_rejects_an_amount_below_the_minimum(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", "funding", "--tenant", str(TENANT), "--history", str(HISTORY)]
    assert main([*argv, "--candidates", "10:20"]) == 2
    assert "at least 50" in capsys.readouterr().err
