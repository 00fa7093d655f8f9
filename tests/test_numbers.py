"""Number classification: the fast E.164 path agrees with libphonenumber's full parser."""

from __future__ import annotations

import phonenumbers as pn
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy.numbers import _TYPES, BadNumber, classify


def _reference(text: str) -> tuple[str, str, int, str, bool] | None:
    """What ``phonenumbers`` alone says (None: not a possible number)."""
    try:
        parsed = pn.parse(text, None)
    except pn.NumberParseException:
        return None
    if not pn.is_possible_number(parsed):
        return None
    valid = pn.is_valid_number(parsed)
    code = parsed.country_code or 0
    country = pn.region_code_for_number(parsed) or pn.region_code_for_country_code(code)
    national = str(parsed.national_number)
    if parsed.italian_leading_zero:
        national = "0" * (parsed.number_of_leading_zeros or 1) + national
    kind = _TYPES.get(pn.number_type(parsed), "unknown") if valid else "unknown"
    return f"{code}{national}", country or "ZZ", code, kind, valid


def _ours(text: str) -> tuple[str, str, int, str, bool] | None:
    try:
        info = classify(text, "US")
    except BadNumber:
        return None
    return info.digits, info.country, info.calling_code, info.number_type, info.valid


@settings(max_examples=1500, deadline=None)
@given(
    code=st.sampled_from(sorted(pn.COUNTRY_CODE_TO_REGION_CODE)),
    national=st.text(alphabet="0123456789", min_size=1, max_size=14),
)
def test_fast_path_agrees_with_libphonenumber(code: int, national: str) -> None:
    text = f"+{code}{national}"
    assert _ours(text) == _reference(text)


@pytest.mark.parametrize(
    ("text", "country", "kind", "digits"),
    [
        ("+14255550100", "US", "fixed_line_or_mobile", "14255550100"),
        ("+18005550100", "US", "toll_free", "18005550100"),
        ("+17875550100", "PR", "fixed_line_or_mobile", "17875550100"),
        ("+442071838750", "GB", "fixed_line", "442071838750"),
        ("+390612345678", "IT", "fixed_line", "390612345678"),  # Italian leading zero kept
        ("+80012345678", "001", "toll_free", "80012345678"),  # non-geographic (UIFN)
        ("+3550071284308", "AL", "unknown", "355071284308"),  # national prefix 0 stripped
    ],
)
def test_known_numbers(text: str, country: str, kind: str, digits: str) -> None:
    info = classify(text, "US")
    assert (info.country, info.number_type, info.digits) == (country, kind, digits)
    assert _ours(text) == _reference(text)


def test_short_codes_are_judged_where_dialled() -> None:
    assert classify("911", "US").emergency
    assert classify("999", "GB").emergency
    assert not classify("999", "US").emergency
    assert classify("611", "US").number_type == "short_code"


@pytest.mark.parametrize("text", ["+1555", "abc", "+99912345", "123456789", ""])
def test_impossible_numbers_are_refused(text: str) -> None:
    with pytest.raises(BadNumber):
        classify(text, "US")
