"""Numbers: classify a dialled string once — country, number type, emergency — and cache it.

Parsing with ``phonenumbers`` costs 12–25 µs; the evaluator must not pay that per
call, so :func:`classify` is memoised per (text, region). Short codes (no ``+``)
are judged in the caller's region: an emergency number there, else a short code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

__all__ = ["BadNumber", "NumberInfo", "classify"]

_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

NON_GEOGRAPHIC = "001"


class BadNumber(ValueError):
    """The text is not a possible phone number (the caller turns this into a located error)."""


@dataclass(frozen=True, slots=True)
class NumberInfo:
    """What the engine needs to know about one dialled or calling number."""

    text: str
    digits: str  # E.164 digits without '+', or the short code
    country: str  # ISO 3166 region; "001" for non-geographic numbers (UIFN, +800…)
    calling_code: int  # 0 for short codes
    number_type: str  # libphonenumber type in snake_case, or "emergency" / "short_code"
    emergency: bool
    short_code: bool
    valid: bool  # libphonenumber knows the range; invalid-but-possible numbers still rate


@lru_cache(maxsize=262_144)
def classify(text: str, region: str) -> NumberInfo:
    """Classify ``text`` (E.164 such as +14255550100, or a short code such as 911).

    ``region`` is where a short code is dialled (the caller's usage location).
    Raises :class:`BadNumber` for text that cannot be a phone number.
    """
    if not text.startswith("+"):
        if not text or len(text) > 8 or not all(c.isdigit() or c in "*#" for c in text):
            raise BadNumber(f"'{text}' is neither an E.164 number (+ and digits) nor a short code")
        emergency = phonenumbers.is_emergency_number(text, region)
        return NumberInfo(
            text,
            text,
            region,
            0,
            "emergency" if emergency else "short_code",
            emergency,
            True,
            True,
        )
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(f"'{text}' is not a phone number: {exc._msg}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise BadNumber(
            f"'{text}' is not a possible phone number (wrong length for +{parsed.country_code})"
        )
    valid = phonenumbers.is_valid_number(parsed)
    code = parsed.country_code or 0
    country = phonenumbers.region_code_for_number(parsed)
    if not country:
        country = phonenumbers.region_code_for_country_code(code)
    national = str(parsed.national_number)
    if parsed.italian_leading_zero:
        national = "0" * (parsed.number_of_leading_zeros or 1) + national
    number_type = _TYPES.get(phonenumbers.number_type(parsed), "unknown") if valid else "unknown"
    return NumberInfo(
        text, f"{code}{national}", country or "ZZ", code, number_type, False, False, valid
    )
