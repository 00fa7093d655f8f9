"""Numbers: classify a dialled string once — country, number type, emergency — and cache it.

Parsing with ``phonenumbers`` costs 12–25 µs; the evaluator must not pay that per
call, so :func:`classify` is memoised per (text, region). Short codes (no ``+``)
are judged in the caller's region: an emergency number there, else a short code.

Batch rating sees mostly distinct numbers, so a miss must be cheap too: a plain
``+digits`` number is answered by one regex call, from tables compiled (on first use of
its calling code) from libphonenumber's own metadata, its checks in libphonenumber's
order — about 2 µs. Anything else goes through libphonenumber itself.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import phonenumbers

__all__ = ["BadNumber", "NumberInfo", "classify"]

#: libphonenumber's ``PhoneNumberType`` values → ccpolicy's names (the values are
#: written out so that importing this module does not import ``phonenumbers``, ~15 ms;
#: a test holds them to the library's).
_TYPES = {
    0: "fixed_line",
    1: "mobile",
    2: "fixed_line_or_mobile",
    3: "toll_free",
    4: "premium_rate",
    5: "shared_cost",
    6: "voip",
    7: "personal_number",
    8: "pager",
    9: "uan",
    10: "voicemail",
    99: "unknown",
}
_UNKNOWN_TYPE = 99

NON_GEOGRAPHIC = "001"


class BadNumber(ValueError):
    """The text is not a possible phone number (the caller turns this into a located error)."""


class NumberInfo(NamedTuple):
    """What the engine needs to know about one dialled or calling number.

    Immutable; a named tuple, so that the compiled path builds one in ~0.15 µs."""

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
    import phonenumbers  # imported on first use (see _TYPES)

    emergency = phonenumbers.is_emergency_number(text, region)
    kind = "emergency" if emergency else "short_code"
    return NumberInfo(text, text, region, 0, kind, emergency, True, True)


@lru_cache(maxsize=65_536)
def _classify_e164(text: str) -> NumberInfo:
    """Plain ``+digits`` of a known calling code: one regex call on the national digits
    against the code's table for their length. Anything else: libphonenumber."""
    digits = text[1:]
    if 3 <= len(digits) <= 17 and digits.isascii() and digits.isdigit():
        codes = _CALLING_CODES or _calling_codes()
        code = digits[:1]
        if code not in codes:
            code = digits[:2]
            if code not in codes:
                code = digits[:3]
        try:
            tables = _tables[code]
        except KeyError:
            tables = _tables_once_seen(code)
        if tables is not None:
            national = digits[len(code) :]
            pattern, verdicts = tables[len(national)]
            match = pattern.fullmatch(national)
            assert match is not None  # the last alternative takes any digits
            verdict = verdicts[match.lastindex or 0]
            if verdict is _IMPOSSIBLE:
                raise BadNumber(_impossible(text, int(code)))
            if verdict is not None:
                country, calling_code, number_type, valid = verdict
                return _new(
                    NumberInfo,
                    (text, digits, country, calling_code, number_type, False, False, valid),
                )
    return _classify_with_phonenumbers(text)


def _impossible(text: str, calling_code: int) -> str:
    return f"'{text}' is not a possible phone number (wrong length for +{calling_code})"


def _classify_with_phonenumbers(text: str) -> NumberInfo:
    """The reference path: libphonenumber's parser, possibility, region and type."""
    import phonenumbers
    from phonenumbers.phonenumberutil import _number_type_helper, national_significant_number

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
            valid = found != _UNKNOWN_TYPE
            number_type = _TYPES.get(found, "unknown")
    else:
        country = phonenumbers.region_code_for_country_code(code)
    national = national_significant_number(parsed)
    return NumberInfo(
        text, f"{code}{national}", country or "ZZ", code, number_type, False, False, valid
    )


# --- The compiled path: libphonenumber's checks for one calling code and national length
# as one regex, its alternatives in libphonenumber's order, each ending in a named group
# whose verdict ``fullmatch(national).lastindex`` picks.

#: Calling codes as text → as numbers; filled on first use (see _TYPES).
_CALLING_CODES: dict[str, int] = {}


def _calling_codes() -> dict[str, int]:
    import phonenumbers

    _CALLING_CODES.update((str(code), code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    return _CALLING_CODES


_Verdict = tuple[str, int, str, bool]  # country, calling code, number type, valid
_Table = tuple[re.Pattern[str], tuple[_Verdict | None, ...]]  # None: ask libphonenumber
_IMPOSSIBLE: _Verdict = ("", 0, "", False)  # not a possible length (by identity)

# By calling code: a table per national length (0 to 17 digits less the code), or
# None where libphonenumber answers everything (not a calling code, or metadata these
# tables cannot express). Compiling costs 1–10 ms a calling code (+1, 25 regions: ~30 ms)
# against ~15 µs saved a number, so a code is compiled once it has been seen
# _COMPILE_AFTER times: a batch compiles its codes at once, a single `ccpolicy eval`
# never pays for them.
_tables: dict[str, tuple[_Table, ...] | None] = {}
_seen: dict[str, int] = {}
_COMPILE_AFTER = 64

_new = tuple.__new__  # a NumberInfo from its fields, without __new__'s argument parsing

# _number_type_helper's order of checks after the general description's gate; fixed
# line and mobile come last (see _region_types).
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


def _tables_once_seen(code: str) -> tuple[_Table, ...] | None:
    """The tables of ``code`` if it has been seen often enough (see ``_tables``)."""
    seen = _seen.get(code, 0) + 1
    if seen < _COMPILE_AFTER:
        _seen[code] = seen
        return None
    tables = _tables[code] = _compile(code)
    return tables


def _compile(code: str) -> tuple[_Table, ...] | None:
    """The tables of calling code ``code`` (see ``_tables``)."""
    import phonenumbers

    calling_code = (_CALLING_CODES or _calling_codes()).get(code)
    if calling_code is None:
        return None
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[calling_code]
    metadata = [
        (
            region,
            phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region),
        )
        for region in regions
    ]
    main = metadata[0][1]
    if main is None or main.general_desc is None or not main.general_desc.possible_length:
        return None
    # is_possible_number: the main region's lengths, local-only ones included.
    general = main.general_desc
    possible = {*general.possible_length, *general.possible_length_local_only}
    tables = []
    for length in range(18 - len(code)):
        regex = _Alternatives()
        if main.national_prefix_for_parsing:  # the full parser may strip it
            regex.add(f"(?=(?:{main.national_prefix_for_parsing})){regex.group(None, '')}")
        if length in possible:
            for region, md in metadata:
                if md is None:
                    continue
                # region_code_for_number: one region is the answer without checks;
                # among several, leading digits decide where present, else validity.
                if len(regions) > 1 and md.leading_digits is not None:
                    valid = _region_types(regex, region, calling_code, md, length)
                    unknown = regex.group((region, calling_code, "unknown", False), "")
                    either = f"{valid}|{unknown}" if valid else unknown
                    regex.add(f"(?=(?:{md.leading_digits}))(?:{either})")
                else:
                    regex.add(_region_types(regex, region, calling_code, md, length))
            regex.add(regex.group((regions[0], calling_code, "unknown", False), ""))
        elif length >= 2:
            regex.add(regex.group(_IMPOSSIBLE, ""))
        else:  # fewer than 2 national digits: the full parser refuses in its own words
            regex.add(regex.group(None, ""))
        table = regex.compile()
        if table is None:
            return None
        tables.append(table)
    return tuple(tables)


def _region_types(
    regex: _Alternatives,
    region: str,
    calling_code: int,
    md: phonenumbers.PhoneMetadata,
    length: int,
) -> str:
    """_number_type_helper for numbers of ``length`` digits: an alternative that holds
    when the number is valid in ``region``, its groups telling the type ("": never)."""

    def pattern(desc: phonenumbers.PhoneNumberDesc | None) -> str | None:
        # _is_number_matching_desc: the desc's lengths (when listed), then its pattern.
        if desc is None or not desc.national_number_pattern:
            return None
        if desc.possible_length and length not in desc.possible_length:
            return None
        return f"(?:{desc.national_number_pattern})"

    def group(number_type: str, body: str) -> str:
        return regex.group((region, calling_code, number_type, True), body)

    general = pattern(md.general_desc)
    if general is None:
        return ""
    branches = []
    for kind in _SPECIAL_TYPES:
        special = pattern(getattr(md, kind))
        if special is not None:
            branches.append(group(kind, special))
    fixed = pattern(md.fixed_line)
    same = md.same_mobile_and_fixed_line_pattern
    mobile = None if same else pattern(md.mobile)
    if fixed is not None:
        if same:
            branches.append(group("fixed_line_or_mobile", fixed))
        elif mobile is None:
            branches.append(group("fixed_line", fixed))
        else:
            both = group("fixed_line_or_mobile", mobile)
            branches.append(rf"(?={fixed}\Z)(?:{both}|{group('fixed_line', '')})")
    if mobile is not None:
        branches.append(group("mobile", mobile))
    if not branches:
        return ""
    return rf"(?={general}\Z)(?:{'|'.join(branches)})"


class _Alternatives:
    """A regex being built: alternatives tried in order, each verdict a named group
    (``group``) that ends its alternative and takes the digits left."""

    def __init__(self) -> None:
        self.alternatives: list[str] = []
        self.verdicts: list[_Verdict | None] = []

    def group(self, verdict: _Verdict | None, body: str) -> str:
        self.verdicts.append(verdict)
        return f"(?P<_{len(self.verdicts) - 1}>{body or _THE_REST})"

    def add(self, alternative: str) -> None:
        if alternative:
            self.alternatives.append(alternative)

    def compile(self) -> _Table | None:
        """The regex and its verdicts by group number; None if the metadata's patterns
        could clash with the groups (a backreference or a group name of its own)."""
        source = "|".join(self.alternatives)
        if re.search(_BACKREFERENCE, source):
            return None
        try:
            pattern = re.compile(source)
        except re.error:
            return None
        if len(pattern.groupindex) != len(self.verdicts):
            return None
        verdicts: list[_Verdict | None] = [None] * (pattern.groups + 1)
        for name, number in pattern.groupindex.items():
            verdicts[number] = self.verdicts[int(name[1:])]
        return pattern, tuple(verdicts)


_THE_REST = r"\d*"
_BACKREFERENCE = r"\\[1-9]|\(\?P="  # compiled on first use: imports stay cheap
