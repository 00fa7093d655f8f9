"""``ccpolicy report pools`` and ``report usage`` over rated calls (CSV and JSON Lines)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from policy.cli import main

DATA = Path(__file__).parent / "data" / "rate"
TENANT = DATA / "tenant.yaml"
RATED = DATA / "expected.csv"  # the golden usage report: c01–c19 plus a repeat of c04


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_pools_report_sizes_and_usage(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(
        capsys, "report", "pools", "--tenant", str(TENANT), "--rated", str(RATED), "--format",
        "json",
    )  # fmt: skip
    assert report["month"] == "2026-11"
    pools = {p["pool"]: p for p in report["pools"]}  # type: ignore[attr-defined]
    us = pools["domestic_calling_plan:US:domestic"]
    # 2 users (alice US, dana PR) × 3000; the tenant's 5990 used + c02 5 min + c03 5 min
    assert (us["total_minutes"], us["minutes_used"], us["minutes_available"]) == (6000, 6000, 0)
    zone_a = pools["audio_conferencing:zone_a"]
    assert (zone_a["total_minutes"], zone_a["minutes_used"]) == (120, 30)  # c09 only
    de = pools["domestic_international_calling_plan:DE:international"]
    assert (de["total_minutes"], de["minutes_used"]) == (600, 15)  # c05 (c18: no duration)
    assert de["country_or_region"] == "DE"


def test_pools_report_other_month_has_no_tenant_usage(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(
        capsys, "report", "pools", "--tenant", str(TENANT), "--rated", str(RATED),
        "--month", "2026-12", "--format", "json",
    )  # fmt: skip
    used = {p["pool"]: p["minutes_used"] for p in report["pools"]}  # type: ignore[attr-defined]
    assert used["domestic_calling_plan:US:domestic"] == 0


def test_pools_text_has_the_documented_columns(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "pools", "--tenant", str(TENANT), "--rated", str(RATED)]) == 0
    out = capsys.readouterr().out
    for column in (
        "Country or region",
        "Capability description",
        "Total minutes",
        "Minutes used",
        "Minutes available",
    ):
        assert column in out
    assert "Domestic Calling Plan — domestic minutes" in out


def test_usage_report_totals_count_a_repeat_once(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, "report", "usage", "--rated", str(RATED), "--format", "json")
    total = report["total"]
    assert total == {"calls": 19, "refused": 6, "minutes": 108.0, "charge": "0.50"}
    by_payer = report["by_payer"]
    assert by_payer["credits"]["charge"] == "0.42"  # type: ignore[index]
    assert by_payer["plan"]["charge"] == "0.08"  # type: ignore[index]
    assert report["by_user"]["alice@contoso.com"]["calls"] == 8  # type: ignore[index]
    assert report["by_country"]["GB"]["calls"] == 4  # type: ignore[index]
    assert report["by_scenario"]["domestic_call"]["refused"] == 1  # type: ignore[index]
    assert report["credits_per_day"] == {"2026-11-02": "0.50"}
    per_payer = sum(Decimal(v["charge"]) for v in by_payer.values())  # type: ignore[attr-defined]
    assert per_payer == Decimal(total["charge"])  # type: ignore[index]


def test_usage_report_from_jsonl_decisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.jsonl"
    assert main(
        ["rate", "--tenant", str(TENANT), "--calls", str(DATA / "calls.csv"), "--out", str(out)]
    ) == 0  # fmt: skip
    capsys.readouterr()
    report = _json(capsys, "report", "usage", "--rated", str(out), "--format", "json")
    assert report["total"]["charge"] == "0.50" and report["total"]["calls"] == 19  # type: ignore[index]
    assert report["credits_per_day"] == {}  # decisions carry no times


def test_bad_month_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "usage", "--rated", str(RATED), "--month", "2026-13"]) == 2
