"""Loading rate cards: CSV cells, tariffs, the YAML sidecar, and the bundled sample card."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import jsonschema
import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from policy.pricing.ratecard import COLUMNS, REQUIRED_COLUMNS, RateCard, Rounding, load_ratecard
from policy.support.errors import InputError, SchemaError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "rules" / "rates.csv"
HEADER = ",".join(COLUMNS)
GOOD = "44,United Kingdom,mobile,,0.05,0.10,60,60,0,,,,"
WEDNESDAY = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


def write(tmp_path: Path, *lines: str, name: str = "rates.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(**cells: str) -> str:
    """A valid CSV row (in COLUMNS order) with some cells replaced."""
    base = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    base.update(cells)
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([base[c] for c in COLUMNS])
    return out.getvalue()


def schema_error(path: Path) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        load_ratecard(path)
    return info.value


# -- a good card -------------------------------------------------------------------------


def test_loads_a_card_with_all_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        GOOD,
        "44,United Kingdom,mobile,,,0.08,60,1,60,,,,",
        "44,UK weekend,mobile,,0,0.03,60,60,0,sat-sun,,,",
        "1,US toll-free,toll_free,US,0,0.022,60,1,0,,,,",
        ",Anywhere,,,0.10,1.00,60,60,0,mon-fri,08:00,24:00,5.00",
    )
    card = load_ratecard(path)
    assert card.source == str(path)
    assert card.currency is None
    assert card.rounding == Rounding("half_up", 2)
    assert len(card.tariffs) == 4
    uk = card.tariffs[0]
    assert (uk.prefix, uk.number_type, uk.origin, uk.line) == ("44", "mobile", None, 2)
    assert [(t.from_second, t.rate, t.increment, t.line) for t in uk.tiers] == [
        (0, Decimal("0.10"), 60, 2),
        (60, Decimal("0.08"), 1, 3),
    ]
    assert uk.connect_fee == Decimal("0.05")
    assert card.tariffs[1].days == (5, 6)
    assert card.tariffs[2].origin == "US"
    anywhere = card.tariffs[3]
    assert anywhere.prefix == "" and anywhere.number_type is None
    assert anywhere.days == (0, 1, 2, 3, 4)
    assert (anywhere.time_from, anywhere.time_to) == (8 * 3600, 86_400)
    assert anywhere.max_cost == Decimal("5.00")
    assert card.price("447700900123", "mobile", None, WEDNESDAY, 90) == Decimal("0.19")


def test_optional_columns_may_be_absent_and_header_is_case_insensitive(tmp_path: Path) -> None:
    header = ",".join(c.upper() if i % 2 else c for i, c in enumerate(REQUIRED_COLUMNS))
    path = write(tmp_path, header, "33,France,,,,0.024,60,60,")
    card = load_ratecard(path)
    (tariff,) = card.tariffs
    assert tariff.connect_fee == Decimal(0)
    assert tariff.tiers[0].from_second == 0
    assert tariff.max_cost is None and tariff.days == () and tariff.time_from is None
    assert card.price("33123456789", "fixed_line", None, WEDNESDAY, 61) == Decimal("0.05")


def test_bom_crlf_blank_lines_and_multiline_cells_keep_line_numbers(tmp_path: Path) -> None:
    text = (
        "\ufeff" + HEADER + "\r\n"
        "\r\n"
        '44,"United\nKingdom",mobile,,0,0.10,60,60,0,,,,\r\n'
        ",,,,,,,,,,,,\r\n"
        "45,Denmark,,,0,abc,60,60,0,,,,\r\n"
    )
    path = tmp_path / "rates.csv"
    path.write_bytes(text.encode("utf-8"))
    error = schema_error(path)
    assert error.finding.location is not None
    assert error.finding.location.line == 6
    assert error.finding.path == "rate"


def test_whitespace_around_cells_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, " 44 , UK , mobile , , 0 , 0.10 , 60 , 60 , 0 , sat , , , ")
    (tariff,) = load_ratecard(path).tariffs
    assert (tariff.prefix, tariff.number_type, tariff.days) == ("44", "mobile", (5,))


def test_days_lists_and_ranges(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        row(prefix="1", days="mon-fri"),
        row(prefix="2", days="sat,sun"),
        row(prefix="3", days="Sat-Sun"),
        row(prefix="4", days="fri-mon"),
        row(prefix="5", days="mon, wed ,fri"),
        row(prefix="6", days="mon-wed,sat"),
    )
    days = [t.days for t in load_ratecard(path).tariffs]
    assert days == [(0, 1, 2, 3, 4), (5, 6), (5, 6), (0, 4, 5, 6), (0, 2, 4), (0, 1, 2, 5)]


def test_empty_card_with_header_prices_nothing(tmp_path: Path) -> None:
    card = load_ratecard(write(tmp_path, HEADER))
    assert card.tariffs == ()
    assert not card.covers("441234", "mobile", None, WEDNESDAY)
    assert card.price("441234", "mobile", None, WEDNESDAY, 60) is None


# -- every cell error, with its line and column -------------------------------------------

CELL_ERRORS = [
    ("rate", "abc", "'abc' is not a decimal"),
    ("rate", "1e3", "'1e3' is not a decimal"),
    ("rate", "NaN", "'NaN' is not a decimal"),
    ("rate", "1,5", "'1,5' is not a decimal"),
    ("rate", "-0.01", "'-0.01' must not be negative"),
    ("rate", "", "is required"),
    ("connect_fee", "x", "'x' is not a decimal"),
    ("connect_fee", "-1", "'-1' must not be negative"),
    ("max_cost", "-2.00", "'-2.00' must not be negative"),
    ("max_cost", "$5", "'$5' is not a decimal"),
    ("increment", "0", "'0' must be at least 1"),
    ("increment", "-1", "'-1' must be at least 1"),
    ("increment", "1.5", "'1.5' is not a whole number of seconds"),
    ("increment", "", "is required"),
    ("rate_unit", "0", "'0' must be at least 1"),
    ("rate_unit", "min", "'min' is not a whole number of seconds"),
    ("from_second", "-5", "'-5' must not be negative"),
    ("number_type", "mobil", "(did you mean 'mobile'?)"),
    ("number_type", "landline", "'landline' is not one of ["),
    ("origin", "us", "'us' is not a country code"),
    ("origin", "USA", "'USA' is not a country code"),
    ("origin", "U1", "'U1' is not a country code"),
    ("days", "mon-fry", "'fry' is not a day (did you mean 'fri'?)"),
    ("days", "weekend", "'weekend' is not a day"),
    ("days", "mon,,tue", "'' is not a day"),
    ("days", "mon-", "'' is not a day"),
    ("days", "mon-tue-wed", "'tue-wed' is not a day"),
    ("prefix", "+44", "'+44' is not a digit prefix"),
    ("prefix", "44a", "'44a' is not a digit prefix"),
    ("prefix", "４４", "'４４' is not a digit prefix"),
]


@pytest.mark.parametrize(("column", "value", "message"), CELL_ERRORS)
def test_bad_cell_is_reported_at_its_line_and_column(
    tmp_path: Path, column: str, value: str, message: str
) -> None:
    path = write(tmp_path, HEADER, GOOD.replace("44,", "45,", 1), row(**{column: value}))
    error = schema_error(path)
    assert error.finding.location is not None
    assert (error.finding.location.file, error.finding.location.line) == (str(path), 3)
    assert error.finding.location.column == 0
    assert error.finding.path == column
    assert error.finding.code == "schema"
    assert message in error.message
    assert str(error).startswith(f"{path}:3: {column}: ")


def test_headline_matches_the_documented_form(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, row(prefix="45"), row(prefix="46", rate="abc"))
    assert str(schema_error(path)) == f"{path}:4: rate: 'abc' is not a decimal"


def test_every_bad_row_is_a_finding_and_the_first_is_raised(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        row(prefix="1", rate="x"),
        GOOD,
        row(prefix="2", origin="gb"),
        row(prefix="3", days="someday"),
    )
    error = schema_error(path)
    assert error.finding.path == "rate"
    places = [(f.location.line if f.location else 0, f.path) for f in error.findings]
    assert places == [(2, "rate"), (4, "origin"), (5, "days")]
    assert f"{path}:5: days: " in error.render()


def test_prefix_with_plus_gets_a_hint(tmp_path: Path) -> None:
    error = schema_error(write(tmp_path, HEADER, row(prefix="+44")))
    assert error.finding.hint is not None and "44" in error.finding.hint


TIME_ERRORS = [
    ({"time_from": "25:00", "time_to": "26:00"}, "time_from", "'25:00' is not a time between"),
    ({"time_from": "12:60", "time_to": "13:00"}, "time_from", "'12:60' is not a time between"),
    ({"time_from": "9", "time_to": "10:00"}, "time_from", "'9' is not a time HH:MM"),
    ({"time_from": "09:00", "time_to": "24:01"}, "time_to", "'24:01' is not a time between"),
    ({"time_from": "24:00", "time_to": "06:00"}, "time_from", "'24:00' is the end of the day"),
    ({"time_from": "09:00"}, "time_to", "time_from is set, so time_to is required"),
    ({"time_to": "09:00"}, "time_from", "time_to is set, so time_from is required"),
    ({"time_from": "09:00", "time_to": "09:00"}, "time_to", "equals time_from"),
]


@pytest.mark.parametrize(("cells", "column", "message"), TIME_ERRORS)
def test_bad_time_window(tmp_path: Path, cells: dict[str, str], column: str, message: str) -> None:
    error = schema_error(write(tmp_path, HEADER, row(**cells)))
    assert error.finding.location is not None and error.finding.location.line == 2
    assert error.finding.path == column
    assert message in error.message


def test_good_time_windows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        row(prefix="1", time_from="00:00", time_to="24:00"),
        row(prefix="2", time_from="22:00", time_to="06:30"),
        row(prefix="3", time_from="7:05", time_to="08:00"),
    )
    windows = [(t.time_from, t.time_to) for t in load_ratecard(path).tariffs]
    assert windows == [(0, 86_400), (79_200, 23_400), (25_500, 28_800)]


# -- tariff structure ----------------------------------------------------------------------


def test_tariff_without_a_tier_at_second_zero(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, row(prefix="45", from_second="60"))
    error = schema_error(path)
    assert error.finding.location is not None and error.finding.location.line == 3
    assert error.finding.path == "from_second"
    assert "no tier starting at from_second 0" in error.message


def test_two_tiers_at_the_same_second(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, row(rate="0.2"))
    error = schema_error(path)
    assert error.finding.location is not None and error.finding.location.line == 3
    assert error.finding.path == "from_second"
    assert "repeats the tier of line 2" in error.message


def test_same_second_with_other_key_is_a_separate_tariff(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD, row(origin="GB"), row(days="sat"), row(number_type=""))
    assert len(load_ratecard(path).tariffs) == 4


def test_equivalent_day_spellings_are_the_same_tariff_key(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(days="sat,sun"), row(days="sat-sun"))
    error = schema_error(path)
    assert error.finding.path == "from_second" and "repeats" in error.message


@pytest.mark.parametrize("column", ["connect_fee", "max_cost"])
def test_later_tier_may_not_change_fee_or_cap(tmp_path: Path, column: str) -> None:
    first = row(**{column: "1.00"})
    same = row(**{column: "1.00", "from_second": "60", "increment": "1"})
    empty = row(**{column: "", "from_second": "120", "increment": "1"})
    other = row(**{column: "2.00", "from_second": "180", "increment": "1"})
    card = load_ratecard(write(tmp_path, HEADER, first, same, empty))
    assert getattr(card.tariffs[0], column) == Decimal("1.00")
    error = schema_error(write(tmp_path, HEADER, first, same, empty, other))
    assert error.finding.location is not None and error.finding.location.line == 5
    assert error.finding.path == column
    assert "differs from the first tier's" in error.message


def test_blank_fee_on_the_first_tier_is_zero_for_the_others(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(connect_fee=""), row(connect_fee="0", from_second="60"))
    (tariff,) = load_ratecard(path).tariffs
    assert tariff.connect_fee == 0
    error = schema_error(
        write(tmp_path, HEADER, row(connect_fee=""), row(connect_fee="0.01", from_second="60"))
    )
    assert error.finding.path == "connect_fee"


def test_tier_rows_may_come_in_any_order(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, row(from_second="60", increment="1", connect_fee=""), GOOD)
    (tariff,) = load_ratecard(path).tariffs
    assert [t.from_second for t in tariff.tiers] == [0, 60]
    assert tariff.connect_fee == Decimal("0.05")


# -- header and shape ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", REQUIRED_COLUMNS)
def test_missing_required_column_is_reported_at_line_1(tmp_path: Path, missing: str) -> None:
    header = ",".join(c for c in REQUIRED_COLUMNS if c != missing)
    error = schema_error(write(tmp_path, header))
    assert error.finding.location is not None and error.finding.location.line == 1
    assert error.finding.path == missing
    assert "required column is missing" in error.message


def test_unknown_column_suggests_the_right_name(tmp_path: Path) -> None:
    error = schema_error(write(tmp_path, HEADER.replace("max_cost", "max_cots")))
    assert error.finding.path == "max_cots"
    assert "did you mean 'max_cost'?" in error.message


def test_duplicate_column(tmp_path: Path) -> None:
    error = schema_error(write(tmp_path, HEADER + ",rate"))
    assert error.finding.path == "rate" and "twice" in error.message


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ("44,UK,mobile", "origin", "row has 3 cells; the header has 13 columns"),
        (GOOD + ",extra", None, "row has 14 cells; the header has 13 columns"),
    ],
)
def test_row_with_the_wrong_number_of_cells(
    tmp_path: Path, line: str, path: str | None, message: str
) -> None:
    error = schema_error(write(tmp_path, HEADER, line))
    assert error.finding.location is not None and error.finding.location.line == 2
    assert error.finding.path == path
    assert error.message == message


def test_empty_file_has_no_header(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("\n\n", encoding="utf-8")
    error = schema_error(path)
    assert error.finding.location is not None and error.finding.location.line == 1
    assert "no header" in error.message


# -- unreadable files -------------------------------------------------------------------------


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as info:
        load_ratecard(path)
    assert str(path) in str(info.value)
    assert info.value.finding.code == "input"


def test_directory_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="directory"):
        load_ratecard(tmp_path)


def test_binary_file_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary") as info:
        load_ratecard(path)
    assert str(path) in str(info.value)


def test_non_utf8_file_is_input_error_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(
        (HEADER + "\n").encode() + "44,Royaume-Uni é,,,0,1,60,60,0,,,,\n".encode("latin-1")
    )
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        load_ratecard(path)
    assert str(info.value).startswith(f"{path}:2:16: ")


# -- the sidecar -------------------------------------------------------------------------------


def test_sidecar_sets_currency_and_rounding(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD)
    write(tmp_path, "currency: EUR", "rounding: {method: up, decimals: 3}", name="rates.yaml")
    card = load_ratecard(path)
    assert card.currency == "EUR"
    assert card.rounding == Rounding("up", 3)
    assert card.price("44123", "mobile", None, WEDNESDAY, 1) == Decimal("0.150")


def test_sidecar_fields_default_one_by_one(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, GOOD)
    write(tmp_path, "rounding:", "  method: down", name="rates.yaml")
    card = load_ratecard(path)
    assert (card.currency, card.rounding) == (None, Rounding("down", 2))
    write(tmp_path, "# nothing here", name="rates.yaml")
    assert load_ratecard(path).rounding == Rounding()


@pytest.mark.parametrize(
    ("lines", "line", "path", "message"),
    [
        (["currency: USD", "rounding:", "  method: halfup"], 3, "rounding.method", "is not one of"),
        (["currency: usd"], 1, "currency", "does not match"),
        (["rounding:", "  decimals: two"], 2, "rounding.decimals", "expected an integer"),
        (["rounding:", "  decimals: 11"], 2, "rounding.decimals", "is greater than"),
        (["curency: USD"], 1, "curency", "unknown field 'curency' (did you mean 'currency'?)"),
        (["rounding:", "  mode: up"], 2, "rounding.mode", "unknown field"),
        (["- USD"], 1, "(root)", "expected a mapping"),
    ],
)
def test_bad_sidecar_names_the_field(
    tmp_path: Path, lines: list[str], line: int, path: str, message: str
) -> None:
    card = write(tmp_path, HEADER, GOOD)
    sidecar = write(tmp_path, *lines, name="rates.yaml")
    error = schema_error(card)
    assert error.finding.location is not None
    assert (error.finding.location.file, error.finding.location.line) == (str(sidecar), line)
    assert error.finding.path == path
    assert message in error.message


def test_every_sidecar_problem_is_a_finding(tmp_path: Path) -> None:
    card = write(tmp_path, HEADER, GOOD)
    write(tmp_path, "currency: usd", "rounding:", "  method: nearest", name="rates.yaml")
    error = schema_error(card)
    assert [f.path for f in error.findings] == ["currency", "rounding.method"]


def test_sidecar_that_is_not_yaml_is_input_error(tmp_path: Path) -> None:
    card = write(tmp_path, HEADER, GOOD)
    sidecar = write(tmp_path, "currency: [USD", name="rates.yaml")
    with pytest.raises(InputError, match="invalid YAML") as info:
        load_ratecard(card)
    assert str(info.value).startswith(str(sidecar))


def test_sidecar_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads((ROOT / "schemas" / "ratecard.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/ratecard.schema.json")
    assert schema["title"] and schema["description"]


# -- from_rows -----------------------------------------------------------------------------------


def test_from_rows_builds_a_card() -> None:
    rows = [
        dict(zip(COLUMNS, GOOD.split(","), strict=True)),
        {
            "prefix": "",
            "destination": "any",
            "number_type": "",
            "origin": "",
            "connect_fee": Decimal("0"),
            "rate": Decimal("1"),
            "rate_unit": 60,
            "increment": 60,
            "from_second": 0,
        },
    ]
    card = RateCard.from_rows(rows, currency="USD", rounding=Rounding("down", 1))
    assert (card.source, card.currency, card.rounding) == ("<rows>", "USD", Rounding("down", 1))
    assert [t.line for t in card.tariffs] == [1, 2]
    assert card.price("999", "mobile", None, WEDNESDAY, 60) == Decimal("1.0")


def test_from_rows_errors_name_the_row() -> None:
    good = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    with pytest.raises(SchemaError) as info:
        RateCard.from_rows([good, {**good, "rate": "x"}], source="inline")
    assert str(info.value) == "inline:2: rate: 'x' is not a decimal"
    missing = {k: v for k, v in good.items() if k != "increment"}
    with pytest.raises(SchemaError, match="required column is missing") as info:
        RateCard.from_rows([missing])
    assert info.value.finding.path == "increment"
    with pytest.raises(SchemaError, match="unknown column") as info:
        RateCard.from_rows([{**good, "ratee": "1"}])
    assert info.value.finding.path == "ratee"
    with pytest.raises(SchemaError, match="float"):
        RateCard.from_rows([{**good, "rate": 0.1}])


# -- the bundled illustrative card ------------------------------------------------------------

ZONE_A_TEXT = """AU AT BE BR BG CA CN HR CZ DK EE FI FR DE GR HK HU IN IE IT JP LU MY MX NL NZ NO
                 PL PT PR RO RU SG SK SI ZA KR ES SE CH TW TH GB US"""  # Zone A, as documented
OTHERS_TEXT = "AE NG AR EG KE IL TR UA VN PH ID PK SA CO CL PE"
ZONE_A, OTHERS = ZONE_A_TEXT.split(), OTHERS_TEXT.split()
TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
}


@pytest.fixture(scope="module")
def bundled() -> RateCard:
    return load_ratecard(BUNDLED)


def test_bundled_card_is_labelled_illustrative(bundled: RateCard) -> None:
    sidecar = BUNDLED.with_suffix(".yaml").read_text(encoding="utf-8")
    assert sidecar.splitlines()[0].startswith("# ILLUSTRATIVE SAMPLE RATES")
    assert all("(illustrative)" in t.destination for t in bundled.tariffs)
    assert bundled.currency == "USD"
    assert bundled.rounding == Rounding("half_up", 2)


@pytest.mark.parametrize("region", ZONE_A + OTHERS)
@pytest.mark.parametrize("kind", [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE])
def test_bundled_card_prices_fixed_and_mobile_by_country(
    bundled: RateCard, region: str, kind: int
) -> None:
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    number_type = TYPES[phonenumbers.number_type(number)]
    tariff = bundled.tariff_at(digits, number_type, None, WEDNESDAY)
    assert tariff is not None and tariff.prefix != "", "priced by the catch-all"
    assert len(tariff.tiers) == 2
    assert [(t.from_second, t.increment) for t in tariff.tiers] == [(0, 60), (60, 1)]
    assert bundled.price(digits, number_type, None, WEDNESDAY, 60) is not None


@pytest.mark.parametrize(
    ("digits", "destination"),
    [
        ("14165550100", "Canada"),
        ("16045550100", "Canada"),
        ("17875550100", "Puerto Rico"),
        ("19395550100", "Puerto Rico"),
        ("12125550100", "United States"),
    ],
)
def test_bundled_card_splits_nanp_by_area_code(
    bundled: RateCard, digits: str, destination: str
) -> None:
    tariff = bundled.tariff_at(digits, "fixed_line_or_mobile", "US", WEDNESDAY)
    assert tariff is not None and tariff.destination.startswith(destination)


def test_bundled_north_american_toll_free_depends_on_origin(bundled: RateCard) -> None:
    ten_minutes = {
        origin: bundled.price("18005550100", "toll_free", origin, WEDNESDAY, 600)
        for origin in ("US", "CA", "PR")
    }
    assert ten_minutes["US"] == Decimal("0.22")  # $0.022/min
    assert len(set(ten_minutes.values())) == 3
    us = bundled.tariff_at("18005550100", "toll_free", "US", WEDNESDAY)
    assert us is not None and us.tiers[0].increment == 1
    assert bundled.price("18005550100", "toll_free", "US", WEDNESDAY, 61) == Decimal("0.02")


def test_bundled_card_has_the_advertised_features(bundled: RateCard) -> None:
    assert any(t.days for t in bundled.tariffs)
    assert any(t.max_cost is not None for t in bundled.tariffs)
    assert any(t.connect_fee > 0 for t in bundled.tariffs)
    for number_type in ("premium_rate", "shared_cost"):
        for prefix in ("44", "33"):
            tariff = bundled.tariff_at(prefix + "870123456", number_type, None, WEDNESDAY)
            assert tariff is not None and tariff.prefix == prefix
    catch_all = bundled.tariff_at("999123456", "voip", None, WEDNESDAY)
    assert catch_all is not None and catch_all.prefix == ""
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)
    weekday = bundled.price("447400123456", "mobile", None, WEDNESDAY, 600)
    weekend = bundled.price("447400123456", "mobile", None, saturday, 600)
    assert weekday is not None and weekend is not None and weekend < weekday
