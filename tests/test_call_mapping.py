"""The one dict-to-Call path: the fast path accepts only what the schema accepts, and
builds the same Call as the full (schema-validated) path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.data.call import _checked_call, call_from_mapping
from policy.support.errors import SchemaError

GOOD: dict[str, Any] = {
    "id": "c1",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "to": "+442071838750",
    "start": "2026-11-02T09:00:00-05:00",
    "duration": 420,
}

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "c1",
            "outbound",
            "inbound",
            "meeting",
            "user",
            "alice@contoso.com",
            "a b@c",
            "a@b@c",
            "+442071838750",
            "+1",
            "911",
            "+4420 7183",
            "2026-11-02T09:00:00-05:00",
            "2026-11-02T09:00Z",
            "2026-11-02T09:00:00.123456+01:00",
            "2026-11-02T09:00:00.1234567+01:00",
            "2026-02-30T09:00:00Z",
            "1899-12-31T23:59:59Z",
            "2026-11-02T09:00:00",
            "2026-11-02T09:00:00+0500",
            "2026-11-02 09:00:00Z",
            "2026-11-02T09:00:00z",
            "٢٠٢٦-11-02T09:00:00Z",
            "2026-11-02T24:00:00Z",
            "+442071838750\n",
        ]
    ),
    st.text(max_size=12),
)


def _outcome(build: Any, data: dict[str, Any]) -> Any:
    try:
        call = build(data)
    except SchemaError as exc:
        return ("error", exc.finding.path)
    return call


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*GOOD, "extra"]), VALUES), st.booleans())
def test_the_fast_path_agrees_with_the_schema_path(changes: dict[str, Any], drop: bool) -> None:
    data = {**GOOD, **changes}
    if drop:
        data.pop("context")
    fast = _outcome(call_from_mapping, data)
    full = _outcome(
        lambda d: _checked_call(d, source="<call>", line=0, path="", validated=False), data
    )
    assert fast == full


def test_every_finding_is_reported_with_the_prefix() -> None:
    with pytest.raises(SchemaError) as info:
        call_from_mapping({**GOOD, "to": "x", "duration": -1}, path="[3]")
    paths = sorted(f.path or "" for f in info.value.findings)
    assert paths == ["[3].duration", "[3].to"]


def test_an_explicit_null_is_not_an_absent_field() -> None:
    with pytest.raises(SchemaError) as info:
        call_from_mapping({**GOOD, "user": None})
    assert info.value.finding.path == "user"
