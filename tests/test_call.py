"""Calls: the named tuple's computed month, replace, and the engine's observed facts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from helpers import BASE_TENANT
from hypothesis import given, settings
from hypothesis import strategies as st

import policy
from policy.data.call import Call, month_of


@settings(max_examples=500, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30), timezones=st.none()
    ),
    minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_month_is_the_utc_calendar_month(moment: datetime, minutes: int) -> None:
    start = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    utc = start.astimezone(timezone.utc)
    assert month_of(start) == f"{utc.year:04d}-{utc.month:02d}"


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2026-11-30T23:30:00-05:00", "2026-12"),  # the evening of the 30th is December UTC
        ("2026-12-01T00:30:00+01:00", "2026-11"),  # just after midnight in Paris: November
        ("2026-12-01T00:30:00Z", "2026-12"),
        ("2026-02-28T22:00:00-03:00", "2026-03"),
    ],
)
def test_month_at_the_edges_of_a_month(text: str, month: str) -> None:
    call = Call("c1", "outbound", "+14255550100", datetime.fromisoformat(text))
    assert call.month == month


def test_replace_keeps_the_month_in_step_with_the_start() -> None:
    call = Call("c1", "outbound", "+14255550100", datetime(2026, 11, 2, tzinfo=timezone.utc))
    later = call.replace(start=datetime(2027, 1, 5, tzinfo=timezone.utc), duration=60)
    assert (later.month, later.duration, later.id) == ("2027-01", 60, "c1")
    assert call.month == "2026-11" and call.duration is None
    with pytest.raises(AttributeError):
        call.duration = 5  # type: ignore[misc]


def test_decide_observed_is_decide_plus_the_numbers_it_classified(
    engine: policy.Engine,
) -> None:
    tenant = policy.Tenant.from_dict(BASE_TENANT)
    call = Call(
        "c1",
        "outbound",
        "+442071838750",
        datetime(2026, 11, 2, 9, tzinfo=timezone.utc),
        "user",
        "Alice@Contoso.com",
        None,
        420,
    )
    plain = engine.decide(call, tenant, engine.bind(tenant).initial.copy())
    decision, seen = engine.decide_observed(call, tenant, engine.bind(tenant).initial.copy())
    assert decision == plain
    assert seen is not None
    assert (seen.region, seen.number.country, seen.number.number_type) == (
        "US",
        "GB",
        "fixed_line",
    )
    assert seen.origin is None and seen.origin_country == "US" and not seen.shares

    stranger = call.replace(user="bob@contoso.com")
    refused, nothing = engine.decide_observed(stranger, tenant, engine.bind(tenant).initial.copy())
    assert refused.denial == "unknown_user" and nothing is None
