"""Numbers: classify a dialled string once — country, number type, emergency — and cache it.

Parsing with ``phonenumbers`` costs 12–25 µs; the evaluator must not pay that per
call, so :func:`classify` is memoised per (text, region). Short codes (no ``+``)
are judged in the caller's region: an emergency number there, else a short code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import _number_type_helper, national_significant_number

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


def classify(text: str, region: str) -> NumberInfo:
    """Classify ``text`` (E.164 such as +14255550100, or a short code such as 911).

    ``region`` is where a short code is dialled (the caller's usage location); an E.164
    number means the same everywhere and is cached by its text alone.
    Raises :class:`BadNumber` for text that cannot be a phone number.
    """
    if text.startswith("+"):
        return _classify_e164(text)
    return _classify_short(text, region)


@lru_cache(maxsize=4096)
def _classify_short(text: str, region: str) -> NumberInfo:
    if not text or len(text) > 8 or not all(c.isdigit() or c in "*#" for c in text):
        raise BadNumber(f"'{text}' is neither an E.164 number (+ and digits) nor a short code")
    emergency = phonenumbers.is_emergency_number(text, region)
    kind = "emergency" if emergency else "short_code"
    return NumberInfo(text, text, region, 0, kind, emergency, True, True)


def _parse(text: str) -> phonenumbers.PhoneNumber:
    """``phonenumbers.parse(text, None)``, with a fast path for plain ``+digits``: the
    country code is the 1–3 digit prefix libphonenumber knows, the rest the national
    number (leading zeros kept as libphonenumber keeps them). Anything else — spaces,
    punctuation, extensions — goes through the full parser."""
    digits = text[1:]
    if 3 <= len(digits) <= 17 and digits.isascii() and digits.isdigit() and digits[0] != "0":
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in _COUNTRY_CODES:
                national = digits[size:]
                if not national or _may_carry_national_prefix(code, national):
                    break  # the full parser strips national prefixes; let it
                number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
                if len(national) > 1 and national[0] == "0":
                    number.italian_leading_zero = True
                    zeros = len(national) - len(national.lstrip("0"))
                    zeros = min(zeros, len(national) - 1)
                    if zeros > 1:
                        number.number_of_leading_zeros = zeros
                return number
    try:
        return phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(f"'{text}' is not a phone number: {exc._msg}") from None


_COUNTRY_CODES = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


@lru_cache(maxsize=512)
def _national_prefix(code: int) -> re.Pattern[str] | None:
    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    pattern = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(pattern) if pattern else None


def _may_carry_national_prefix(code: int, national: str) -> bool:
    pattern = _national_prefix(code)
    return pattern is not None and pattern.match(national) is not None


@lru_cache(maxsize=65_536)
def _classify_e164(text: str) -> NumberInfo:
    parsed = _parse(text)
    if not phonenumbers.is_possible_number(parsed):
        raise BadNumber(
            f"'{text}' is not a possible phone number (wrong length for +{parsed.country_code})"
        )
    code = parsed.country_code or 0
    country = phonenumbers.region_code_for_number(parsed)
    number_type = "unknown"
    valid = False
    if country:
        # One type lookup answers validity too (libphonenumber: valid ⇔ a known type).
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, country)
        if metadata is not None:
            found = _number_type_helper(national_significant_number(parsed), metadata)
            valid = found != PhoneNumberType.UNKNOWN
            number_type = _TYPES.get(found, "unknown")
    else:
        country = phonenumbers.region_code_for_country_code(code)
    national = str(parsed.national_number)
    if parsed.italian_leading_zero:
        national = "0" * (parsed.number_of_leading_zeros or 1) + national
    return NumberInfo(
        text, f"{code}{national}", country or "ZZ", code, number_type, False, False, valid
    )
