"""Pricing: tariff selection, tiers, increments, fees, caps, windows, rounding, budgets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.pricing.ratecard import RateCard, Rounding
from policy.pricing.tariffs import Tariff, Tier

UTC = timezone.utc
EXACT = Rounding("half_up", 6)
GB = "447700900123"


def r(
    prefix: str = "",
    number_type: str = "",
    origin: str = "",
    *,
    rate: str = "0.60",
    unit: str = "60",
    inc: str = "60",
    start: str = "0",
    fee: str = "",
    cap: str = "",
    days: str = "",
    time_from: str = "",
    time_to: str = "",
    dest: str = "",
) -> dict[str, str]:
    """One rate-card row; by default $0.60 per minute in whole minutes."""
    return {
        "prefix": prefix,
        "destination": dest,
        "number_type": number_type,
        "origin": origin,
        "connect_fee": fee,
        "rate": rate,
        "rate_unit": unit,
        "increment": inc,
        "from_second": start,
        "days": days,
        "time_from": time_from,
        "time_to": time_to,
        "max_cost": cap,
    }


def card(*rows: dict[str, str], rounding: Rounding = EXACT) -> RateCard:
    return RateCard.from_rows(list(rows), rounding=rounding)


def at(
    day: int = 2, hour: int = 10, minute: int = 0, second: int = 0, tz: timezone = UTC
) -> datetime:
    """A moment in the week of Monday 2026-11-23 (day 0 = Monday)."""
    return datetime(2026, 11, 23 + day, hour, minute, second, tzinfo=tz)


def dest(
    c: RateCard,
    digits: str,
    number_type: str = "mobile",
    origin: str | None = None,
    start: datetime | None = None,
) -> str | None:
    tariff = c.tariff_at(digits, number_type, origin, start or at())
    return None if tariff is None else tariff.destination


D = Decimal


# -- selection ---------------------------------------------------------------------------------


def test_longest_prefix_wins() -> None:
    c = card(r("4", dest="4"), r("447", dest="447"), r("44", dest="44"))
    assert dest(c, "447700") == "447"
    assert dest(c, "441234") == "44"
    assert dest(c, "451234") == "4"
    assert dest(c, "447") == "447"
    assert dest(c, "44") == "44"
    assert dest(c, "551234") is None
    assert not c.covers("551234", "mobile", None, at())
    assert c.price("551234", "mobile", None, at(), 60) is None


def test_empty_prefix_is_a_catch_all() -> None:
    c = card(r("44", dest="44"), r("", dest="any"))
    assert dest(c, "33123") == "any"
    assert dest(c, "") == "any"
    assert dest(c, "4412") == "44"


def test_number_type_beats_untyped_whatever_the_order() -> None:
    for rows in (
        [r("44", dest="any"), r("44", "mobile", dest="mob")],
        [r("44", "mobile", dest="mob"), r("44", dest="any")],
    ):
        c = card(*rows)
        assert dest(c, GB, "mobile") == "mob"
        assert dest(c, GB, "fixed_line") == "any"


def test_fixed_line_or_mobile_matches_fixed_line_rows_only() -> None:
    c = card(r("1", "mobile", dest="mob"), r("1", "fixed_line", dest="fix"), r("", dest="any"))
    assert dest(c, "12125550100", "fixed_line_or_mobile") == "fix"
    c = card(r("1", "mobile", dest="mob"), r("", dest="any"))
    assert dest(c, "12125550100", "fixed_line_or_mobile") == "any"
    assert dest(c, "12125550100", "mobile") == "mob"


def test_fixed_line_or_mobile_rows_tie_with_fixed_line_rows_by_file_order() -> None:
    rows = [r("1", "fixed_line", dest="fix"), r("1", "fixed_line_or_mobile", dest="fol")]
    assert dest(card(*rows), "1212", "fixed_line_or_mobile") == "fix"
    assert dest(card(*reversed(rows)), "1212", "fixed_line_or_mobile") == "fol"
    assert dest(card(*rows), "1212", "fixed_line") == "fix"


def test_origin_beats_no_origin_and_must_match() -> None:
    c = card(
        r("1", "toll_free", dest="any"),
        r("1", "toll_free", "US", dest="us"),
        r("1", "toll_free", "CA", dest="ca"),
    )
    assert dest(c, "1800", "toll_free", "US") == "us"
    assert dest(c, "1800", "toll_free", "CA") == "ca"
    assert dest(c, "1800", "toll_free", "GB") == "any"
    assert dest(c, "1800", "toll_free", None) == "any"
    only_us = card(r("1", "toll_free", "US"))
    assert not only_us.covers("1800", "toll_free", "CA", at())


def test_number_type_outranks_origin_and_origin_outranks_window() -> None:
    c = card(r("44", "", "GB", dest="origin"), r("44", "mobile", "", dest="type"))
    assert dest(c, GB, "mobile", "GB") == "type"
    c = card(r("44", "", "", days="mon-sun", dest="window"), r("44", "", "GB", dest="origin"))
    assert dest(c, GB, "mobile", "GB") == "origin"
    assert dest(c, GB, "mobile", "US") == "window"


def test_window_beats_no_window_while_it_covers_the_moment() -> None:
    c = card(r("44", dest="peak"), r("44", days="sat,sun", dest="weekend"))
    assert dest(c, GB, start=at(2)) == "peak"
    assert dest(c, GB, start=at(5)) == "weekend"
    assert dest(c, GB, start=at(6, 23, 59, 59)) == "weekend"
    assert dest(c, GB, start=at(0, 0, 0)) == "peak"


def test_ties_go_to_the_earlier_row() -> None:
    a = r("44", "mobile", days="sat,sun", dest="a")
    b = r("44", "mobile", time_from="00:00", time_to="12:00", dest="b")
    assert dest(card(a, b), GB, start=at(5, 10)) == "a"
    assert dest(card(b, a), GB, start=at(5, 10)) == "b"
    assert dest(card(b, a), GB, start=at(5, 13)) == "a"


def test_longest_prefix_without_a_row_for_the_moment_falls_back_to_a_shorter_one() -> None:
    c = card(r("44", dest="44"), r("447", days="sat", dest="447 sat"), r("4479", "voip", dest="v"))
    assert dest(c, "447900", start=at(5)) == "447 sat"
    assert dest(c, "447900", start=at(4)) == "44"  # 447 has no Friday row
    assert dest(c, "447900", "voip", start=at(4)) == "v"


def test_digits_must_not_carry_a_plus() -> None:
    c = card(r("44"))
    with pytest.raises(ValueError, match="without"):
        c.price("+447700", "mobile", None, at(), 60)


# -- tiers, increments, fees ---------------------------------------------------------------------


def test_whole_increments_last_one_rounded_up() -> None:
    c = card(r("44", rate="0.60", inc="60"))
    assert [c.price(GB, "mobile", None, at(), d) for d in (1, 59, 60, 61, 120, 121)] == [
        D("0.600000"),
        D("0.600000"),
        D("0.600000"),
        D("1.200000"),
        D("1.200000"),
        D("1.800000"),
    ]


def test_step_cost_is_rate_times_increment_over_rate_unit() -> None:
    c = card(r("44", rate="0.60", unit="60", inc="6"))
    assert c.price(GB, "mobile", None, at(), 7) == D("0.120000")  # 2 steps of 0.06
    c = card(r("44", rate="0.002", unit="1", inc="30"))
    assert c.price(GB, "mobile", None, at(), 31) == D("0.120000")  # 2 steps of 0.06
    c = card(r("44", rate="36", unit="3600", inc="1"))
    assert c.price(GB, "mobile", None, at(), 90) == D("0.900000")


def test_arithmetic_is_exact_without_intermediate_rounding() -> None:
    c = card(r("44", rate="0.10", unit="60", inc="1"), rounding=Rounding("half_up", 2))
    # 0.10/60 per second is 0.001666…: no per-step rounding may creep in.
    assert c.price(GB, "mobile", None, at(), 3) == D("0.01")  # 0.005 → 0.01
    assert c.price(GB, "mobile", None, at(), 2) == D("0.00")  # 0.00333…
    assert c.price(GB, "mobile", None, at(), 600) == D("1.00")
    assert c.price(GB, "mobile", None, at(), 6000) == D("10.00")
    fine = card(r("44", rate="0.10", unit="60", inc="1"), rounding=Rounding("down", 10))
    assert fine.price(GB, "mobile", None, at(), 1) == D("0.0016666666")


def test_tiers_bill_their_own_seconds_in_their_own_increments() -> None:
    c = card(
        r("44", rate="0.60", inc="60", start="0"),
        r("44", rate="0.30", inc="1", start="60"),
        r("44", rate="0.06", inc="30", start="600"),
    )
    price = lambda d: c.price(GB, "mobile", None, at(), d)  # noqa: E731
    assert price(30) == D("0.600000")
    assert price(61) == D("0.605000")
    assert price(600) == D("0.600000") + D("0.30") * 9
    assert price(601) == D("0.600000") + D("0.30") * 9 + D("0.03")
    assert price(631) == D("0.600000") + D("0.30") * 9 + D("0.06")


def test_connect_fee_once_and_only_when_asked() -> None:
    c = card(r("44", fee="0.05", rate="0.60"), r("44", rate="0.60", inc="1", start="60"))
    assert c.price(GB, "mobile", None, at(), 60) == D("0.650000")
    assert c.price(GB, "mobile", None, at(), 120) == D("1.250000")
    assert c.price(GB, "mobile", None, at(), 120, connect_fee=False) == D("1.200000")


def test_zero_second_call_costs_nothing() -> None:
    c = card(r("44", fee="0.05"), rounding=Rounding("half_up", 2))
    zero = c.price(GB, "mobile", None, at(), 0)
    assert zero == 0 and str(zero) == "0.00"
    assert str(c.price(GB, "mobile", None, at(), 90, from_second=90)) == "0.00"
    assert card(r("44", days="sat")).price(GB, "mobile", None, at(2), 0) is None


def test_impossible_durations_are_refused() -> None:
    c = card(r("44"))
    with pytest.raises(ValueError):
        c.price(GB, "mobile", None, at(), 10, from_second=20)
    with pytest.raises(ValueError):
        c.price(GB, "mobile", None, at(), 10, from_second=-1)


def test_max_cost_caps_the_call_including_the_connect_fee() -> None:
    c = card(r("44", fee="0.50", rate="1.00", cap="3.00"))
    assert c.price(GB, "mobile", None, at(), 60) == D("1.500000")
    assert c.price(GB, "mobile", None, at(), 120) == D("2.500000")
    assert c.price(GB, "mobile", None, at(), 180) == D("3.000000")
    assert c.price(GB, "mobile", None, at(), 36000) == D("3.000000")
    assert c.price(GB, "mobile", None, at(), 180, connect_fee=False) == D("3.000000")


def test_the_starting_tariffs_cap_applies_across_a_window_change() -> None:
    capped_start = card(
        r("44", rate="1.00", cap="2.00"), r("44", rate="6.00", time_from="12:00", time_to="13:00")
    )
    assert capped_start.price(GB, "mobile", None, at(2, 11, 59), 600) == D("2.000000")
    capped_later = card(
        r("44", rate="1.00"), r("44", rate="6.00", cap="2.00", time_from="12:00", time_to="13:00")
    )
    assert capped_later.price(GB, "mobile", None, at(2, 11, 59), 600) == D("55.000000")


# -- windows and pieces --------------------------------------------------------------------------


def peak_offpeak(**extra: str) -> RateCard:
    return card(
        r("44", rate="0.60", dest="offpeak", **extra),
        r("44", rate="1.20", time_from="08:00", time_to="18:00", days="mon-fri", dest="peak"),
    )


def test_call_crossing_a_window_edge_is_split_and_pieces_round_up_separately() -> None:
    c = peak_offpeak()
    # 17:59:30 + 60 s: 30 s of peak (one 60 s step) then 30 s of off-peak (one step).
    assert c.price(GB, "mobile", None, at(2, 17, 59, 30), 60) == D("1.800000")
    # Without the split it would be a single peak step.
    assert c.price(GB, "mobile", None, at(2, 17, 58, 30), 60) == D("1.200000")
    assert c.price(GB, "mobile", None, at(2, 7, 59, 30), 60) == D("1.800000")
    # Weekend: no edge at 18:00.
    assert c.price(GB, "mobile", None, at(5, 17, 59, 30), 60) == D("0.600000")


def test_the_connect_fee_is_that_of_the_tariff_at_the_start() -> None:
    c = card(
        r("44", fee="0.10", dest="day"),
        r("44", fee="1.00", time_from="18:00", time_to="24:00", dest="evening"),
    )
    assert c.price(GB, "mobile", None, at(2, 17, 59), 120) == D("1.300000")
    assert c.price(GB, "mobile", None, at(2, 18, 0), 120) == D("2.200000")


def test_tier_offsets_count_from_the_calls_start_in_every_piece() -> None:
    c = card(
        r("44", rate="0.60", inc="60", dest="day"),
        r("44", rate="6.00", inc="60", time_from="12:00", time_to="13:00", dest="noon"),
        r("44", rate="6.00", inc="1", start="60", time_from="12:00", time_to="13:00"),
    )
    # 11:59:30 + 90 s: [0,30) day (one 60 s step = 0.60); [30,60) noon tier 0 (one 60 s
    # step = 6.00); [60,90) noon tier 1, per second (30 × 0.10 = 3.00).
    assert c.price(GB, "mobile", None, at(2, 11, 59, 30), 90) == D("9.600000")


def test_moments_with_the_same_tariff_are_not_split() -> None:
    c = card(
        r("44", rate="0.60", dest="any"),
        r("44", rate="9.00", days="mon", time_from="12:00", time_to="13:00"),
    )
    # On Wednesday the Monday row never applies: no cut at 12:00 or 13:00.
    assert c.price(GB, "mobile", None, at(2, 11, 59, 30), 60) == D("0.600000")
    assert c.price(GB, "mobile", None, at(2, 12, 59, 30), 60) == D("0.600000")
    assert c.price(GB, "mobile", None, at(0, 11, 59, 30), 60) == D("9.600000")


def test_time_to_24_00_is_the_end_of_the_day() -> None:
    c = card(r("44", dest="day"), r("44", time_from="18:00", time_to="24:00", dest="evening"))
    assert dest(c, GB, start=at(2, 23, 59, 59)) == "evening"
    assert dest(c, GB, start=at(3, 0, 0, 0)) == "day"
    assert dest(c, GB, start=at(2, 18, 0, 0)) == "evening"
    assert dest(c, GB, start=at(2, 17, 59, 59)) == "day"


def test_window_wrapping_past_midnight() -> None:
    c = card(
        r("44", rate="1.20", dest="day"),
        r("44", rate="0.60", time_from="22:00", time_to="06:00", dest="night"),
    )
    for hour, expected in (
        (22, "night"),
        (23, "night"),
        (0, "night"),
        (5, "night"),
        (6, "day"),
        (12, "day"),
        (21, "day"),
    ):
        assert dest(c, GB, start=at(2, hour)) == expected, hour
    # 05:59 + 120 s: 60 s of night then 60 s of day.
    assert c.price(GB, "mobile", None, at(2, 5, 59), 120) == D("1.800000")
    # 21:59 + 3 h: 1 min day, then the night window continues past midnight: no cut.
    assert c.price(GB, "mobile", None, at(2, 21, 59), 3 * 3600) == D("1.20") + D("0.60") * 179


def test_day_ranges_wrap_around_the_week() -> None:
    c = card(r("44", dest="any"), r("44", days="fri-mon", dest="long weekend"))
    assert [dest(c, GB, start=at(d)) for d in range(7)] == [
        "long weekend",
        "any",
        "any",
        "any",
        "long weekend",
        "long weekend",
        "long weekend",
    ]


def test_days_and_time_are_judged_on_the_same_moment() -> None:
    c = card(
        r("44", dest="any"),
        r("44", days="sat", time_from="22:00", time_to="06:00", dest="sat night"),
    )
    assert dest(c, GB, start=at(5, 2)) == "sat night"
    assert dest(c, GB, start=at(5, 23)) == "sat night"
    assert dest(c, GB, start=at(6, 2)) == "any"


def test_call_across_midnight_into_the_weekend() -> None:
    c = card(r("44", rate="0.60", dest="week"), r("44", rate="0.06", days="sat,sun", inc="1"))
    # Friday 23:59:00 + 90 s: 60 s weekday (one step) + 30 s weekend per second.
    assert c.price(GB, "mobile", None, at(4, 23, 59), 90) == D("0.630000")


def test_windows_use_the_calls_own_utc_offset() -> None:
    c = peak_offpeak()
    new_york = timezone(timedelta(hours=-5))
    local_evening = at(2, 19, 0, tz=new_york)  # 00:00 UTC Thursday
    assert dest(c, GB, start=local_evening) == "offpeak"
    local_morning = at(2, 9, 0, tz=new_york)  # 14:00 UTC
    assert dest(c, GB, start=local_morning) == "peak"
    tokyo = timezone(timedelta(hours=9))
    assert dest(c, GB, start=at(5, 10, tz=tokyo)) == "offpeak"  # Saturday locally


def test_only_window_rows_leave_gaps_uncovered() -> None:
    c = card(r("44", days="mon-fri", time_from="08:00", time_to="18:00"))
    assert c.covers(GB, "mobile", None, at(2, 9))
    assert not c.covers(GB, "mobile", None, at(2, 19))
    assert c.price(GB, "mobile", None, at(2, 19), 60) is None
    # A call that starts covered keeps its tariff through the gap.
    assert c.price(GB, "mobile", None, at(2, 17, 59), 180) == D("1.800000")


# -- rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "decimals", "amount", "expected"),
    [
        ("half_up", 2, "0.725", "0.73"),
        ("half_up", 2, "0.7249999", "0.72"),
        ("up", 2, "0.721", "0.73"),
        ("up", 2, "0.72", "0.72"),
        ("down", 2, "0.729", "0.72"),
        ("half_up", 0, "2.5", "3"),
        ("down", 3, "1", "1.000"),
        ("half_up", 2, "0", "0.00"),
    ],
)
def test_rounding_apply(method: str, decimals: int, amount: str, expected: str) -> None:
    result = Rounding(method, decimals).apply(D(amount))
    assert str(result) == expected
    assert result.as_tuple().exponent == -decimals


@pytest.mark.parametrize(
    ("method", "seconds", "expected"),
    [
        ("up", 1, "0.01"),
        ("half_up", 1, "0.00"),
        ("half_up", 3, "0.01"),
        ("down", 5, "0.00"),
        ("down", 6, "0.01"),
        ("up", 6, "0.01"),
        ("half_up", 9, "0.02"),
    ],
)
def test_rounding_of_the_final_amount(method: str, seconds: int, expected: str) -> None:
    c = card(r("44", rate="0.10", inc="1"), rounding=Rounding(method, 2))
    assert str(c.price(GB, "mobile", None, at(), seconds)) == expected


def test_rounding_decimals_zero_and_many() -> None:
    c = card(r("44", rate="2.50", inc="1"), rounding=Rounding("half_up", 0))
    assert str(c.price(GB, "mobile", None, at(), 60)) == "3"
    c = card(r("44", rate="2.50", inc="1"), rounding=Rounding("half_up", 4))
    assert str(c.price(GB, "mobile", None, at(), 1)) == "0.0417"


@pytest.mark.parametrize(
    ("method", "decimals"), [("nearest", 2), ("up", -1), ("up", 11), ("up", True)]
)
def test_bad_rounding_is_refused(method: str, decimals: int) -> None:
    with pytest.raises(ValueError):
        Rounding(method, decimals)


# -- tails (spill-over beyond a pool) --------------------------------------------------------------


def test_tail_pricing_counts_tiers_from_the_calls_start_and_skips_the_connect_fee() -> None:
    c = card(r("44", fee="0.05", rate="0.60", inc="60"), r("44", rate="0.30", inc="1", start="60"))
    tail = c.price(GB, "mobile", None, at(), 180, from_second=120, connect_fee=False)
    assert tail == D("0.300000")  # 60 s in the per-second tier
    whole = c.price(GB, "mobile", None, at(), 180)
    head = c.price(GB, "mobile", None, at(), 120)
    assert whole is not None and head is not None and tail == whole - head
    assert c.price(GB, "mobile", None, at(), 90, from_second=30, connect_fee=False) == D(
        "0.750000"
    )  # 30 s of tier 0 (one 60 s step, counted from second 30) + 30 s of tier 1


def test_tail_that_starts_in_a_later_piece() -> None:
    c = peak_offpeak()
    # 17:58 start; pool covers 120 s (to 18:00); the tail is off-peak.
    assert c.price(GB, "mobile", None, at(2, 17, 58), 300, from_second=120, connect_fee=False) == D(
        "1.800000"
    )
    assert c.price(GB, "mobile", None, at(2, 17, 58), 300, from_second=60, connect_fee=False) == D(
        "3.000000"
    )


# -- max_duration ----------------------------------------------------------------------------------


def assert_boundary(
    c: RateCard,
    budget: str,
    *,
    number_type: str = "mobile",
    start: datetime | None = None,
    from_second: int = 0,
    connect_fee: bool = True,
) -> int:
    start = start or at()
    b = D(budget)
    t = c.max_duration(
        GB, number_type, None, start, b, from_second=from_second, connect_fee=connect_fee
    )
    assert t is not None

    def price(d: int) -> Decimal:
        p = c.price(
            GB, number_type, None, start, d, from_second=from_second, connect_fee=connect_fee
        )
        assert p is not None
        return p

    assert price(from_second + t) <= b < price(from_second + t + 1)
    return t


def test_max_duration_exact_boundary() -> None:
    c = card(
        r("44", fee="0.05", rate="0.60", inc="60"),
        r("44", rate="0.30", inc="1", start="60"),
        rounding=Rounding("half_up", 2),
    )
    assert assert_boundary(c, "0.65") == 60
    assert assert_boundary(c, "0.66") == 62  # 0.655 rounds up to 0.66, 0.665 to 0.67
    assert assert_boundary(c, "1.00") == 130
    assert assert_boundary(c, "50.00") == 60 + 9870
    assert assert_boundary(c, "0.64") == 0


@pytest.mark.parametrize(("method", "expected"), [("up", 100), ("half_up", 149), ("down", 199)])
def test_max_duration_respects_the_rounding_method(method: str, expected: int) -> None:
    c = card(r("44", rate="0.0001", unit="1", inc="1"), rounding=Rounding(method, 2))
    for start in (at(), at(5)):  # a fixed tariff, then the same behind a window
        assert assert_boundary(c, "0.01", start=start) == expected
    windowed = card(r("44", rate="0.0001", unit="1", inc="1"), r("44", rate="1", days="sun"),
                    rounding=Rounding(method, 2))  # fmt: skip
    assert assert_boundary(windowed, "0.01") == expected


def test_max_duration_of_a_tail_without_connect_fee() -> None:
    c = card(
        r("44", fee="0.05", rate="0.60", inc="60"),
        r("44", rate="0.30", inc="1", start="60"),
        rounding=Rounding("half_up", 2),
    )
    assert assert_boundary(c, "1.00", from_second=3000, connect_fee=False) == 200
    assert assert_boundary(c, "0.60", from_second=30, connect_fee=False) == 30
    assert assert_boundary(c, "0.61", from_second=30, connect_fee=False) == 32


def test_max_duration_when_nothing_is_affordable() -> None:
    c = card(r("44", fee="1.00", rate="0.60"))
    assert c.max_duration(GB, "mobile", None, at(), D("0.99")) == 0
    assert c.max_duration(GB, "mobile", None, at(), D("-5")) == 0
    assert c.max_duration(GB, "mobile", None, at(), D("0")) == 0
    assert c.max_duration("33", "mobile", None, at(), D("100")) == 0  # not priced


def test_max_duration_with_a_free_first_tier_and_a_dear_connect_fee() -> None:
    c = card(r("44", rate="0", fee="1.00"), r("44", rate="0.60", start="600"))
    assert c.max_duration(GB, "mobile", None, at(), D("0.99")) == 0
    assert c.max_duration(GB, "mobile", None, at(), D("1.00")) == 600
    assert c.max_duration(GB, "mobile", None, at(), D("1.60")) == 660
    assert c.max_duration(GB, "mobile", None, at(), D("0"), connect_fee=False) == 600


def test_max_duration_unlimited_for_zero_rates() -> None:
    free = card(r("44", rate="0"))
    assert free.max_duration(GB, "mobile", None, at(), D("0")) is None
    fee_only = card(r("44", rate="0", fee="0.25"))
    assert fee_only.max_duration(GB, "mobile", None, at(), D("0.25")) is None
    assert fee_only.max_duration(GB, "mobile", None, at(), D("0.24")) == 0
    free_after_ten_minutes = card(r("44", rate="0.60"), r("44", rate="0", start="600"))
    assert free_after_ten_minutes.max_duration(GB, "mobile", None, at(), D("6.00")) is None
    assert free_after_ten_minutes.max_duration(GB, "mobile", None, at(), D("5.99")) == 540


def test_max_duration_with_a_cap() -> None:
    c = card(r("44", fee="0.50", rate="1.00", cap="3.00"), rounding=Rounding("half_up", 2))
    assert c.max_duration(GB, "mobile", None, at(), D("3.00")) is None
    assert c.max_duration(GB, "mobile", None, at(), D("10")) is None
    assert assert_boundary(c, "2.99") == 120
    assert assert_boundary(c, "1.50") == 60


def test_max_duration_across_windows() -> None:
    c = peak_offpeak()
    t = assert_boundary(c, "10.00", start=at(2, 17, 55))
    assert t == 5 * 60 + 6 * 60  # 5 peak minutes = 6.00, then 6 off-peak minutes = 3.60
    weekend_only_paid = card(r("44", rate="0"), r("44", rate="0.60", days="sat,sun"))
    t = assert_boundary(weekend_only_paid, "6.00", start=at(2, 12))
    assert t == 2 * 86400 + 12 * 3600 + 600


def test_max_duration_tiny_rate_large_budget_is_found_quickly() -> None:
    c = card(r("44", rate="0.0001", inc="1"), rounding=Rounding("down", 2))
    t = assert_boundary(c, "1000")
    assert t == 600_005_999  # rounding down forgives the last 0.01 (6000 s)


def test_weeks_long_call_costs_whole_weeks_exactly() -> None:
    c = peak_offpeak()  # a week: 3000 peak minutes at 1.20 and 7080 off-peak at 0.60
    monday = at(0, 0)
    assert c.price(GB, "mobile", None, monday, 10 * 7 * 86400) == D("78480.000000")
    assert c.price(GB, "mobile", None, monday, 10 * 7 * 86400 + 1) == D("78480.600000")
    assert c.price(GB, "mobile", None, monday, 10 * 7 * 86400 + 8 * 3600 + 1) == D("78769.200000")
    tail = c.price(GB, "mobile", None, monday, 10 * 7 * 86400, from_second=9 * 7 * 86400)
    assert tail == D("7848.000000")


def test_max_duration_of_years_on_a_windowed_card() -> None:
    c = card(r("44", rate="0"), r("44", rate="0.0001", inc="1", days="sat,sun"),
             rounding=Rounding("down", 2))  # fmt: skip
    t = assert_boundary(c, "100000", start=at(2, 12))
    assert t > 100 * 365 * 86400  # a century of weekends; found by skipping whole weeks


# -- properties ------------------------------------------------------------------------------------

TIMES = ["00:00", "06:00", "08:00", "12:30", "18:00", "22:00"]


@dataclass(frozen=True)
class Spec:
    prefix: str
    number_type: str
    origin: str
    days: frozenset[int]
    window: tuple[str, str] | None
    fee: str
    cap: str
    tiers: tuple[tuple[int, str, int, int], ...]  # (from_second, rate, unit, increment)

    def key(self) -> tuple[object, ...]:
        return (self.prefix, self.number_type, self.origin, self.days, self.window)


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    window = draw(st.none() | st.tuples(st.sampled_from(TIMES), st.sampled_from([*TIMES, "24:00"])))
    if window is not None and (
        window[0] == window[1] or (window[0], window[1]) == ("00:00", "24:00")
    ):
        window = None
    starts = sorted(draw(st.sets(st.sampled_from([30, 60, 120, 600]), max_size=2)))
    tiers = tuple(
        (
            s,
            draw(st.sampled_from(["0", "0.01", "0.013", "0.1", "0.25", "1.5"])),
            draw(st.sampled_from([1, 60, 3600])),
            draw(st.sampled_from([1, 6, 30, 60])),
        )
        for s in [0, *starts]
    )
    return Spec(
        prefix=draw(st.sampled_from(["", "4", "44", "447"])),
        number_type=draw(st.sampled_from(["", "mobile", "fixed_line"])),
        origin=draw(st.sampled_from(["", "GB"])),
        days=frozenset(draw(st.sets(st.integers(0, 6), max_size=3))),
        window=window,
        fee=draw(st.sampled_from(["", "0", "0.05"])),
        cap=draw(st.sampled_from(["", "", "0.5", "2.00"])),
        tiers=tiers,
    )


def spec_rows(specs: list[Spec]) -> list[dict[str, str]]:
    rows = []
    for s in specs:
        for i, (frm, rate, unit, inc) in enumerate(s.tiers):
            rows.append(
                r(
                    s.prefix,
                    s.number_type,
                    s.origin,
                    rate=rate,
                    unit=str(unit),
                    inc=str(inc),
                    start=str(frm),
                    fee=s.fee if i == 0 else "",
                    cap=s.cap if i == 0 else "",
                    days=",".join(DAY_NAMES[d] for d in sorted(s.days)),
                    time_from=s.window[0] if s.window else "",
                    time_to=s.window[1] if s.window else "",
                )
            )
    return rows


def minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 3600 + int(m) * 60


def reference(
    specs: list[Spec],
    digits: str,
    number_type: str,
    origin: str | None,
    start: datetime,
    a: int,
    b: int,
    connect: bool,
    rounding: Rounding,
) -> Decimal | None:
    """A deliberately naive rate-card model: per-second selection, Fractions, one rounding."""

    def applies(s: Spec, moment: datetime) -> bool:
        type_ok = s.number_type in ("", number_type) or (
            s.number_type == "fixed_line" and number_type == "fixed_line_or_mobile"
        )
        if not (digits.startswith(s.prefix) and type_ok and s.origin in ("", origin or "")):
            return False
        if s.days and moment.weekday() not in s.days:
            return False
        if s.window is None:
            return True
        sec = moment.hour * 3600 + moment.minute * 60 + moment.second
        lo, hi = minutes(s.window[0]), minutes(s.window[1])
        return lo <= sec < hi if lo < hi else (sec >= lo or sec < hi)

    def select(moment: datetime) -> Spec | None:
        live = [(i, s) for i, s in enumerate(specs) if applies(s, moment)]
        if not live:
            return None
        longest = max(len(s.prefix) for _, s in live)
        best = [(i, s) for i, s in live if len(s.prefix) == longest]
        return min(
            best,
            key=lambda p: (
                p[1].number_type == "",
                p[1].origin == "",
                not (p[1].days or p[1].window),
                p[0],
            ),
        )[1]

    local = start.replace(tzinfo=None)
    first = select(local)
    if first is None:
        return None
    pieces: list[tuple[Spec, int, int]] = []
    current, piece = first, 0
    for x in range(1, b):
        chosen = select(local + timedelta(seconds=x)) or current
        if chosen is not current:
            pieces.append((current, piece, x))
            current, piece = chosen, x
    pieces.append((current, piece, b))
    total = Fraction(first.fee or "0") if connect and b > a else Fraction(0)
    for s, p, q in pieces:
        lo, hi = max(a, p), min(b, q)
        for i, (frm, rate, unit, inc) in enumerate(s.tiers):
            until = s.tiers[i + 1][0] if i + 1 < len(s.tiers) else math.inf
            seg_lo, seg_hi = max(lo, frm), min(hi, until)
            if seg_hi > seg_lo:
                steps = -(-(int(seg_hi) - seg_lo) // inc)
                total += steps * Fraction(rate) * inc / unit
    if first.cap:
        total = min(total, Fraction(first.cap))
    scaled = total * 10**rounding.decimals
    floor = scaled.numerator // scaled.denominator
    if rounding.method == "up":
        q = math.ceil(scaled)
    elif rounding.method == "down":
        q = floor
    else:
        q = floor + (1 if scaled - floor >= Fraction(1, 2) else 0)
    return Decimal(q).scaleb(-rounding.decimals)


calls = st.fixed_dictionaries(
    {
        "digits": st.sampled_from(["447700900", "441", "4", "5"]),
        "number_type": st.sampled_from(["mobile", "fixed_line", "fixed_line_or_mobile", "voip"]),
        "origin": st.sampled_from([None, "GB", "US"]),
        "start": st.builds(
            lambda d, h, s, tz: (
                datetime(2026, 11, 23 + d, h, 0, tzinfo=timezone(timedelta(hours=tz)))
                + timedelta(seconds=s)
            ),
            st.integers(0, 6),
            st.sampled_from([5, 7, 11, 12, 17, 21, 23]),
            st.integers(0, 7200),
            st.sampled_from([0, -5, 9]),
        ),
    }
)
roundings = st.builds(
    Rounding, st.sampled_from(["up", "half_up", "down"]), st.sampled_from([0, 2, 3])
)
card_specs = st.lists(specs(), min_size=1, max_size=5, unique_by=Spec.key)


@settings(max_examples=150, deadline=None)
@given(card_specs, calls, roundings, st.integers(0, 9000), st.integers(0, 1200), st.booleans())
def test_price_agrees_with_a_naive_model(
    specs_: list[Spec], call: dict[str, object], rounding: Rounding, length: int, a: int, fee: bool
) -> None:
    c = card(*spec_rows(specs_), rounding=rounding)
    a = min(a, length)
    start = call["start"]
    assert isinstance(start, datetime)
    digits, number_type, origin = str(call["digits"]), str(call["number_type"]), call["origin"]
    assert origin is None or isinstance(origin, str)
    got = c.price(digits, number_type, origin, start, length, from_second=a, connect_fee=fee)
    want = reference(specs_, digits, number_type, origin, start, a, length, fee, rounding)
    assert got == want
    assert (got is None) == (not c.covers(digits, number_type, origin, start))
    if got is not None:
        assert got >= 0
        assert got.as_tuple().exponent == -rounding.decimals


@settings(max_examples=150, deadline=None)
@given(card_specs, calls, roundings, st.lists(st.integers(0, 20000), min_size=2, max_size=6))
def test_price_is_monotone_in_duration(
    specs_: list[Spec], call: dict[str, object], rounding: Rounding, durations: list[int]
) -> None:
    c = card(*spec_rows(specs_), rounding=rounding)
    start = call["start"]
    assert isinstance(start, datetime)
    origin = call["origin"]
    assert origin is None or isinstance(origin, str)
    prices = [
        c.price(str(call["digits"]), str(call["number_type"]), origin, start, d)
        for d in sorted(durations)
    ]
    if prices[0] is None:
        assert all(p is None for p in prices)
        return
    values = [p for p in prices if p is not None]
    assert len(values) == len(prices)
    assert values == sorted(values)
    assert all(v >= 0 and v.as_tuple().exponent == -rounding.decimals for v in values)


@settings(max_examples=150, deadline=None)
@given(card_specs, calls, roundings, st.integers(0, 3000), st.integers(0, 900), st.booleans())
def test_max_duration_agrees_with_price(
    specs_: list[Spec], call: dict[str, object], rounding: Rounding, cents: int, a: int, fee: bool
) -> None:
    c = card(*spec_rows(specs_), rounding=rounding)
    start = call["start"]
    assert isinstance(start, datetime)
    digits, number_type, origin = str(call["digits"]), str(call["number_type"]), call["origin"]
    assert origin is None or isinstance(origin, str)
    budget = Decimal(cents).scaleb(-2)
    t = c.max_duration(digits, number_type, origin, start, budget, from_second=a, connect_fee=fee)
    if not c.covers(digits, number_type, origin, start):
        assert t == 0
        return

    def price(d: int) -> Decimal:
        p = c.price(digits, number_type, origin, start, d, from_second=a, connect_fee=fee)
        assert p is not None
        return p

    if t is None:
        assert price(a + 5 * 7 * 86400) <= budget
    else:
        assert price(a + t) <= budget < price(a + t + 1)


WEEK = 7 * 86400
windowed_specs = card_specs.filter(lambda ss: any(s.days or s.window for s in ss))


@settings(max_examples=200, deadline=None)
@given(windowed_specs, calls, st.integers(2 * WEEK, 8 * WEEK), st.integers(0, WEEK), st.booleans())
def test_skipping_repeated_weeks_changes_nothing(
    specs_: list[Spec], call: dict[str, object], length: int, a: int, fee: bool
) -> None:
    c = card(*spec_rows(specs_))
    start = call["start"]
    assert isinstance(start, datetime)
    origin = call["origin"]
    assert origin is None or isinstance(origin, str)
    route = c._route(str(call["digits"]), str(call["number_type"]), origin)
    a = min(a, length)
    walked = c._raw(route, start, a, length, fee, skip_weeks=False)
    assert c._raw(route, start, a, length, fee) == walked


def test_tariffs_built_by_hand_are_checked() -> None:
    tier = Tier(0, D("0.10"), 60, 60)
    assert Tariff("44", None, None, (tier,)).always
    with pytest.raises(ValueError, match="second 0"):
        Tariff("44", None, None, (Tier(30, D("0.10"), 60, 60),))
    with pytest.raises(ValueError, match="second 0"):
        Tariff("44", None, None, (tier, tier))
    with pytest.raises(ValueError, match="increment"):
        Tariff("44", None, None, (Tier(0, D("0.10"), 60, 0),))
    with pytest.raises(ValueError, match="negative"):
        Tariff("44", None, None, (tier,), connect_fee=D("-1"))
