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


@lru_cache(maxsize=65_536)
def _classify_e164(text: str) -> NumberInfo:
    """Plain ``+digits`` is answered by the calling code's compiled plan (one regex call);
    anything else — punctuation, unknown codes, a national prefix to strip — by
    libphonenumber itself."""
    digits = text[1:]
    if 3 <= len(digits) <= 17 and digits.isascii() and digits.isdigit():
        code = digits[:1]
        if code not in _CALLING_CODES:
            code = digits[:2]
            if code not in _CALLING_CODES:
                code = digits[:3]
        plan = _plans.get(code) or _plan(code)
        if plan is not None:
            national = digits[len(code) :]
            if plan.national_prefix is None or not plan.national_prefix.match(national):
                table = plan.by_length.get(len(national))
                if table is None:
                    raise BadNumber(_impossible(text, plan.calling_code))
                pattern, outcomes = table
                match = pattern.fullmatch(national)
                assert match is not None  # the last alternative takes any digits
                country, number_type, valid = outcomes[match.lastindex or 0]
                return NumberInfo(
                    text, digits, country, plan.calling_code, number_type, False, False, valid
                )
    return _classify_with_phonenumbers(text)


def _impossible(text: str, calling_code: int) -> str:
    return f"'{text}' is not a possible phone number (wrong length for +{calling_code})"


def _classify_with_phonenumbers(text: str) -> NumberInfo:
    """The reference path: libphonenumber's parser, possibility, region and type."""
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(f"'{text}' is not a phone number: {exc._msg}") from None
    code = parsed.country_code or 0
    if not phonenumbers.is_possible_number(parsed):
        raise BadNumber(_impossible(text, code))
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
    national = national_significant_number(parsed)
    return NumberInfo(
        text, f"{code}{national}", country or "ZZ", code, number_type, False, False, valid
    )


# --- Compiled plans: libphonenumber's decision for one calling code as one regex per length.

_CALLING_CODES = {str(code): code for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE}

# _number_type_helper's order of checks after the general-description gate; fixed line
# and mobile come last (see _region_alternatives).
_SPECIAL_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)

_Outcome = tuple[str, str, bool]  # country, number type, valid


@dataclass(frozen=True, slots=True)
class _Plan:
    """One calling code, compiled. For each national length libphonenumber deems
    possible, a regex whose alternatives are its checks in its order — region by region
    (leading digits, else full validation), then type by type — each alternative one
    capturing group, so ``fullmatch(national).lastindex`` names the outcome."""

    calling_code: int
    national_prefix: re.Pattern[str] | None  # such numbers go to the full parser
    by_length: dict[int, tuple[re.Pattern[str], tuple[_Outcome, ...]]]


_plans: dict[str, _Plan] = {}


def _plan(code: str) -> _Plan | None:
    """Compile (once) the plan of calling code ``code``; None: not a calling code, or
    metadata this compiler does not handle (libphonenumber answers those)."""
    calling_code = _CALLING_CODES.get(code)
    if calling_code is None:
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[calling_code]
    main = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(calling_code, regions[0])
    if main is None or main.general_desc is None or not main.general_desc.possible_length:
        return None
    metadata = [
        (
            region,
            phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region),
        )
        for region in regions
    ]
    # is_possible_number: the main region's lengths, local-only ones included.
    lengths = sorted(
        set(main.general_desc.possible_length) | set(main.general_desc.possible_length_local_only)
    )
    by_length = {}
    for length in lengths:
        regex = _Alternatives()
        for region, md in metadata:
            if md is None:
                continue
            # region_code_for_number: one region is the answer without checks; among
            # several, leading digits decide where present, else full validation.
            if len(regions) > 1 and md.leading_digits is not None:
                typed = _region_types(regex, region, md, length)
                unknown = regex.group(region, "unknown", False, r"\d*")
                body = f"{typed}|{unknown}" if typed else unknown
                regex.add(f"(?=(?:{md.leading_digits}))(?:{body})")
            else:
                regex.add(_region_types(regex, region, md, length))
        regex.add(regex.group(regions[0], "unknown", False, r"\d*"))  # no region matched
        compiled = regex.compile()
        if compiled is None:
            return None
        by_length[length] = compiled
    prefix = main.national_prefix_for_parsing
    plan = _Plan(calling_code, re.compile(prefix) if prefix else None, by_length)
    _plans[code] = plan
    return plan


class _Alternatives:
    """A regex being built: alternatives tried in order, each outcome one group."""

    def __init__(self) -> None:
        self.alternatives: list[str] = []
        self.outcomes: list[_Outcome] = [("", "", False)]  # lastindex counts from 1

    def group(self, country: str, number_type: str, valid: bool, body: str) -> str:
        """``body`` as the group of an outcome; groups must be placed in creation order."""
        self.outcomes.append((country, number_type, valid))
        return f"({body})"

    def add(self, alternative: str) -> None:
        if alternative:
            self.alternatives.append(alternative)

    def compile(self) -> tuple[re.Pattern[str], tuple[_Outcome, ...]] | None:
        pattern = re.compile("|".join(self.alternatives))
        if pattern.groups != len(self.outcomes) - 1:
            return None  # a metadata pattern with groups of its own: not compiled here
        return pattern, tuple(self.outcomes)


def _region_types(
    plan: _Alternatives, region: str, md: phonenumbers.PhoneMetadata, length: int
) -> str:
    """_number_type_helper for numbers of ``length`` digits: one alternative that holds
    when the number is valid in ``region``, its groups telling the type ("": never)."""

    def pattern(desc: phonenumbers.PhoneNumberDesc | None) -> str | None:
        # _is_number_matching_desc: the desc's lengths (when listed), then its pattern.
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and length not in desc.possible_length:
            return None
        return f"(?:{desc.national_number_pattern})"

    general = pattern(md.general_desc)
    if general is None:
        return ""
    branches = []
    for kind in _SPECIAL_TYPES:
        special = pattern(getattr(md, kind))
        if special is not None:
            branches.append(plan.group(region, kind, True, special))
    fixed = pattern(md.fixed_line)
    same = md.same_mobile_and_fixed_line_pattern
    mobile = None if same else pattern(md.mobile)
    if fixed is not None:
        if same:
            branches.append(plan.group(region, "fixed_line_or_mobile", True, fixed))
        elif mobile is None:
            branches.append(plan.group(region, "fixed_line", True, fixed))
        else:
            both = plan.group(region, "fixed_line_or_mobile", True, mobile)
            only = plan.group(region, "fixed_line", True, r"\d*")
            branches.append(rf"(?={fixed}\Z)(?:{both}|{only})")
    if mobile is not None:
        branches.append(plan.group(region, "mobile", True, mobile))
    if not branches:
        return ""
    return rf"(?={general}\Z)(?:{'|'.join(branches)})"
