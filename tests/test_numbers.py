"""Number classification: the compiled E.164 path agrees with libphonenumber's full parser."""

from __future__ import annotations

import random
from collections.abc import Iterator

import phonenumbers as pn
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import _number_type_helper

import policy.data.numbers
from policy.data.numbers import (
    _TYPES,
    BadNumber,
    NumberInfo,
    _Alternatives,
    _region_types,
    classify,
)

CALLING_CODES = sorted(pn.COUNTRY_CODE_TO_REGION_CODE)
DESCS = [  # PhoneMetadata's number descriptions
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
    "personal_number", "voip", "pager", "uan", "voicemail", "no_international_dialling",
]  # fmt: skip


@pytest.fixture(autouse=True, scope="module")
def _compiled() -> None:
    """Every calling code's tables compiled up front, so that the comparisons below check
    them (a code's first numbers are answered by libphonenumber itself)."""
    policy.data.numbers._classify_e164.cache_clear()
    for code in policy.data.numbers._CALLING_CODES:
        policy.data.numbers._tables[code] = policy.data.numbers._compile(code)


def test_every_calling_code_compiles() -> None:
    refused = [code for code in CALLING_CODES if policy.data.numbers._tables[str(code)] is None]
    assert refused == []


def test_a_calling_code_is_compiled_once_seen_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy.data.numbers, "_tables", {})
    monkeypatch.setattr(policy.data.numbers, "_seen", {})
    policy.data.numbers._classify_e164.cache_clear()
    texts = [f"+3361234{n:04}" for n in range(policy.data.numbers._COMPILE_AFTER)]
    for text in texts[:-1]:
        assert _ours(text) == _reference(text)
    assert "33" not in policy.data.numbers._tables
    assert _ours(texts[-1]) == _reference(texts[-1])
    assert policy.data.numbers._tables["33"] is not None


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
    assert (info.text, info.emergency, info.short_code) == (text, False, False)
    return info.digits, info.country, info.calling_code, info.number_type, info.valid


def _disagreements(texts: Iterator[str]) -> list[tuple[str, object, object]]:
    out = []
    for text in dict.fromkeys(texts):
        ours, reference = _ours(text), _reference(text)
        if ours != reference:
            out.append((text, ours, reference))
    return out


@settings(max_examples=4000, deadline=None)
@given(
    code=st.sampled_from(CALLING_CODES),
    national=st.text(alphabet="0123456789", min_size=1, max_size=17),
)
def test_fast_path_agrees_with_libphonenumber(code: int, national: str) -> None:
    text = f"+{code}{national}"
    assert _ours(text) == _reference(text)


def _examples(code: int) -> Iterator[str]:
    """Every example number the metadata gives for ``code``'s regions, any type."""
    for region in pn.COUNTRY_CODE_TO_REGION_CODE[code]:
        metadata = pn.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        assert metadata is not None
        for name in DESCS:
            desc = getattr(metadata, name)
            if desc is not None and desc.example_number:
                yield desc.example_number


def _mutations(national: str, rng: random.Random) -> Iterator[str]:
    """``national``, shortened, lengthened and with single digits changed."""
    yield national
    for cut in (1, 2, 3):
        yield national[:-cut]
        yield national + national[:cut]
        yield national + "0" * cut
    for at in range(len(national)):
        for delta in (1, rng.randrange(2, 10)):
            digit = str((int(national[at]) + delta) % 10)
            yield national[:at] + digit + national[at + 1 :]
    for _ in range(4):
        yield "".join(rng.choice("0123456789") for _ in national)


@pytest.mark.parametrize("code", CALLING_CODES)
def test_example_numbers_and_their_neighbours_agree(code: int) -> None:
    """Metadata example numbers (valid by construction) of every region and type, with
    digits changed, dropped and added: valid, invalid and impossible numbers alike."""
    rng = random.Random(code)
    texts = (f"+{code}{m}" for e in _examples(code) for m in _mutations(e, rng))
    assert _disagreements(texts) == []


@pytest.mark.parametrize("code", CALLING_CODES)
def test_every_length_agrees(code: int) -> None:
    """Each national length from 1 digit to the parser's limit, from example digits
    and random ones: the possible-length boundaries (local-only lengths included)."""
    rng = random.Random(-code)
    seeds = [*_examples(code)] or ["1"]
    texts = []
    for length in range(1, 18 - len(str(code)) + 1):
        for seed in seeds:
            texts.append(f"+{code}{(seed * length)[:length]}")
        for first in "0123456789":
            rest = "".join(rng.choice("0123456789") for _ in range(length - 1))
            texts.append(f"+{code}{first}{rest}")
    assert _disagreements(iter(texts)) == []


def test_a_repeated_number_is_a_cache_hit_and_a_true_number_info() -> None:
    first = classify("+33612345678", "US")
    assert classify("+33612345678", "GB") is first
    assert type(first) is NumberInfo
    assert first == NumberInfo(
        "+33612345678", "33612345678", "FR", 33, "mobile", False, False, True
    )
    assert hash(first) == hash(first._replace())
    with pytest.raises(AttributeError):
        first.valid = False  # type: ignore[misc]


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
        ("+1 787 555 0100", "PR", "fixed_line_or_mobile", "17875550100"),  # full parser
        ("+16135550100", "CA", "fixed_line_or_mobile", "16135550100"),  # after US, by type
        ("+12685550100", "AG", "unknown", "12685550100"),  # AG by leading digits, invalid
        ("+15555550100", "US", "unknown", "15555550100"),  # no region: the main one
        ("+15550100", "US", "unknown", "15550100"),  # a local-only length is possible
        ("+447624123456", "IM", "mobile", "447624123456"),  # GB first, then IM's digits
        ("+39000000", "IT", "unknown", "39000000"),  # all zeros: the last is no leading zero
        ("+390669812345", "VA", "fixed_line", "390669812345"),  # IT first, VA by leading digits
        ("+88212345678", "001", "unknown", "88212345678"),  # non-geographic, invalid
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


@pytest.mark.parametrize(
    "text",
    ["+1555", "abc", "+99912345", "123456789", "", "+4412", "+0123456", "+1234567890123456789"],
)
def test_impossible_numbers_are_refused(text: str) -> None:
    with pytest.raises(BadNumber):
        classify(text, "US")


PATTERNS = ["[1-3]\\d{3}", "1\\d{2,4}", "2\\d*", "\\d{4}", "[12]\\d{2}", "3[01]\\d{2}", "", "\\d+"]
LENGTHS = st.sets(st.integers(3, 5)).map(lambda lengths: tuple(sorted(lengths)))
DESC_ANY = pn.PhoneNumberDesc("\\d+", None, ())
DESC_TWO_AND_MORE = pn.PhoneNumberDesc("2\\d*", None, (4,))
DESC = st.builds(lambda p, n: pn.PhoneNumberDesc(p, None, n), st.sampled_from(PATTERNS), LENGTHS)


@settings(max_examples=1000, deadline=None)
@given(
    general=DESC,
    fixed=st.none() | DESC,
    mobile=st.none() | DESC | LENGTHS,  # lengths alone: the fixed line's pattern
    special=st.dictionaries(st.sampled_from(DESCS[3:-1]), DESC, max_size=3),
    national=st.text(alphabet="01234", min_size=3, max_size=5),
)
# Fixed line and mobile of one pattern: the type is fixed_line_or_mobile, and never
# mobile, even where the lengths of one admit the number and those of the other do not.
@example(DESC_ANY, DESC_TWO_AND_MORE, (3,), {}, "2000")
@example(DESC_ANY, DESC_TWO_AND_MORE, (3,), {}, "200")
def test_type_checks_compile_to_libphonenumber_order(
    general: pn.PhoneNumberDesc,
    fixed: pn.PhoneNumberDesc | None,
    mobile: pn.PhoneNumberDesc | tuple[int, ...] | None,
    special: dict[str, pn.PhoneNumberDesc],
    national: str,
) -> None:
    """Made-up metadata where the real one never goes: a type wider than the general
    description, lengths that contradict patterns, fixed line equal to mobile, missing
    descriptions. The compiled alternative picks the type _number_type_helper does."""
    if isinstance(mobile, tuple):
        mobile = (
            None
            if fixed is None
            else pn.PhoneNumberDesc(fixed.national_number_pattern, None, mobile)
        )
    metadata = pn.PhoneMetadata(
        "XX", register=False, general_desc=general, fixed_line=fixed, mobile=mobile, **special
    )
    regex = _Alternatives()
    regex.add(_region_types(regex, "XX", 999, metadata, len(national)))
    regex.add(regex.group(("XX", 999, "unknown", False), ""))
    table = regex.compile()
    assert table is not None
    pattern, verdicts = table
    match = pattern.fullmatch(national)
    assert match is not None and match.lastindex is not None
    verdict = verdicts[match.lastindex]
    assert verdict is not None
    expected = _number_type_helper(national, metadata)
    assert (verdict[2], verdict[3]) == (_TYPES[expected], expected != pn.PhoneNumberType.UNKNOWN)


REFUSED = {
    "+4412": "'+4412' is not a possible phone number (wrong length for +44)",
    "+1 555": "'+1 555' is not a possible phone number (wrong length for +1)",
    "+445": "'+445' is not a phone number: The string supplied is too short to be a phone number.",
    "+99912345": "'+99912345' is not a phone number: Could not interpret numbers after plus-sign.",
    "+0123456": "'+0123456' is not a phone number: Could not interpret numbers after plus-sign.",
}


@pytest.mark.parametrize(("text", "message"), REFUSED.items())
def test_refusals_say_why_in_libphonenumber_words(text: str, message: str) -> None:
    """The same words from the compiled tables as from libphonenumber's path (which
    answers a calling code's first numbers)."""
    with pytest.raises(BadNumber) as compiled:
        classify(text, "US")
    with pytest.raises(BadNumber) as reference:
        policy.data.numbers._classify_with_phonenumbers(text)
    assert str(compiled.value) == str(reference.value) == message


def test_type_names_are_keyed_by_libphonenumbers_own_values() -> None:
    # policy.data.numbers writes PhoneNumberType's values out (it imports phonenumbers lazily).
    names = {
        getattr(pn.PhoneNumberType, name.upper()): name
        for name in _TYPES.values()
        if name != "unknown"
    }
    names[pn.PhoneNumberType.UNKNOWN] = "unknown"
    assert names == _TYPES
