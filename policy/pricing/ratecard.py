"""Rate cards: load and validate a CSV card (and its YAML sidecar) into a :class:`RateCard`.

A card is a CSV file with a header row::

    prefix,destination,number_type,origin,connect_fee,rate,rate_unit,increment,from_second

and optionally ``days,time_from,time_to,max_cost``. Beside ``R.csv`` an optional ``R.yaml``
sets ``{currency: USD, rounding: {method: up|half_up|down, decimals: 2}}`` (default:
the tenant's currency, ``half_up``, 2 places). Every cell is checked; the first bad one
raises :class:`~policy.support.errors.SchemaError` located at its CSV line, with the column
name as the path (``rates.csv:7: rate: 'abc' is not a decimal``). Unreadable files
raise :class:`~policy.support.errors.InputError`.

Cells: ``prefix`` digits (empty = any number); ``number_type`` one of
:data:`~policy.pricing.tariffs.NUMBER_TYPES` (empty = any); ``origin`` two capital letters (empty
= any); ``connect_fee`` (empty = 0), ``rate`` and ``max_cost`` (empty = no cap) are
non-negative decimals; ``rate_unit`` and ``increment`` whole seconds ≥ 1;
``from_second`` whole seconds ≥ 0 (empty = 0); ``days`` a comma list of ``mon``..``sun``
and ranges (``mon-fri``, ``fri-mon`` wraps); ``time_from``/``time_to`` ``HH:MM`` (00:00 to
24:00; ``24:00`` only as ``time_to``), both or neither, not equal.

Rows sharing (prefix, number_type, origin, days, time_from, time_to) are the tiers of
one tariff: one of them must start at ``from_second`` 0, no two at the same second. The
connect fee and cap belong to the tariff — given on its first tier; later tiers leave
them empty or repeat them. Pricing semantics: :mod:`policy.pricing.tariffs`.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policy.pricing.tariffs import NUMBER_TYPES, Rounding, Tariff, TariffTable, Tier
from policy.support.errors import Location, SchemaError
from policy.support.files import read_text
from policy.support.suggest import in_parentheses

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RateCard",
    "Rounding",
    "load_ratecard",
]

REQUIRED_COLUMNS = (
    "prefix",
    "destination",
    "number_type",
    "origin",
    "connect_fee",
    "rate",
    "rate_unit",
    "increment",
    "from_second",
)
OPTIONAL_COLUMNS = ("days", "time_from", "time_to", "max_cost")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_COLUMN_SET = frozenset(COLUMNS)
_REQUIRED_SET = frozenset(REQUIRED_COLUMNS)
SCHEMA_NAME = "ratecard.schema.json"
MAX_FINDINGS = 100  # bad rows reported at once

_DAY_NAMES = {name: i for i, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)\Z")
_INTEGER = re.compile(r"[+-]?\d+\Z")
_TIME = re.compile(r"(\d{1,2}):(\d\d)\Z")
_ORIGIN = re.compile(r"[A-Z]{2}\Z")
_ZERO = Decimal(0)


class RateCard(TariffTable):
    """A validated rate card, ready to price calls (see
    :class:`~policy.pricing.tariffs.TariffTable`).

    ``currency`` is None when the card leaves it to the tenant; ``source`` is the CSV
    path or ``"<rows>"``.
    """

    def __init__(
        self,
        tariffs: Sequence[Tariff],
        *,
        currency: str | None = None,
        rounding: Rounding | None = None,
        source: str = "<rows>",
    ) -> None:
        super().__init__(tariffs, rounding)
        self.currency = currency
        self.source = source

    def __repr__(self) -> str:
        return f"<RateCard {self.source} {len(self.tariffs)} tariffs {self.currency or '-'}>"

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> RateCard:
        """Load ``R.csv`` and, when present, its sidecar ``R.yaml``."""
        source = os.fspath(path)
        text = _read_text(source)
        currency, rounding = _load_sidecar(Path(source).with_suffix(".yaml"))
        records = _csv_records(text, source)
        return cls(_tariffs(records, source), currency=currency, rounding=rounding, source=source)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        currency: str | None = None,
        rounding: Rounding | None = None,
        source: str = "<rows>",
    ) -> RateCard:
        """Build a card from dicts of column → cell text; errors name row *n* as line *n*."""
        records: list[tuple[int, dict[str, str]]] = []
        for n, row in enumerate(rows, start=1):
            unknown = row.keys() - _COLUMN_SET
            if unknown:
                key = str(sorted(map(str, unknown))[0])
                raise SchemaError(
                    f"unknown column{in_parentheses(key, COLUMNS)}",
                    location=Location(source, n),
                    path=key,
                )
            missing = _REQUIRED_SET - row.keys()
            if missing:
                key = next(c for c in REQUIRED_COLUMNS if c in missing)
                raise SchemaError(
                    "required column is missing", location=Location(source, n), path=key
                )
            cells = {
                k: v.strip() if type(v) is str else _cell_text(v, k, source, n)
                for k, v in row.items()
            }
            records.append((n, cells))
        return cls(_tariffs(records, source), currency=currency, rounding=rounding, source=source)


def _cell_text(value: object, column: str, source: str, line: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        raise SchemaError(
            f"{value!r} is a float; give money as a string or Decimal",
            location=Location(source, line),
            path=column,
        )
    return str(value).strip()


def load_ratecard(path: str | os.PathLike[str]) -> RateCard:
    """Load a CSV rate card and its sidecar; see :meth:`RateCard.from_file`."""
    return RateCard.from_file(path)


# -- reading ---------------------------------------------------------------------------


def _read_text(source: str) -> str:
    return read_text(source, source)


def _csv_records(text: str, source: str) -> list[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) for each non-blank data row; the header is checked here."""
    import csv  # a warm policy.load() takes the card from the cache (policy.loadcache)

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[tuple[int, dict[str, str]]] = []
    line = 1
    try:
        for cells in reader:
            row_line, line = line, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _check_header(cells, source, row_line)
                continue
            if len(cells) != len(header):
                missing = header[len(cells)] if len(cells) < len(header) else None
                raise SchemaError(
                    f"row has {len(cells)} cells; the header has {len(header)} columns",
                    location=Location(source, row_line),
                    path=missing,
                )
            records.append((row_line, {k: v.strip() for k, v in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise SchemaError(f"not valid CSV: {exc}", location=Location(source, line)) from None
    if header is None:
        raise SchemaError("empty rate card: no header row", location=Location(source, 1))
    return records


def _check_header(cells: list[str], source: str, line: int) -> list[str]:
    names = [c.strip().lower() for c in cells]
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            raise SchemaError(
                f"unknown column{in_parentheses(name, COLUMNS)}",
                location=Location(source, line),
                path=name or "(empty)",
            )
        if name in seen:
            raise SchemaError("column appears twice", location=Location(source, line), path=name)
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            raise SchemaError(
                "required column is missing from the header",
                location=Location(source, line),
                path=name,
                hint="columns: " + ",".join(REQUIRED_COLUMNS),
            )
    return names


# -- cells -----------------------------------------------------------------------------


@record(frozen=True, slots=True)
class _Row:
    line: int
    prefix: str
    destination: str
    number_type: str | None
    origin: str | None
    connect_fee: Decimal | None
    rate: Decimal
    rate_unit: int
    increment: int
    from_second: int
    days: tuple[int, ...]
    time_from: int | None
    time_to: int | None
    max_cost: Decimal | None


class _Bad(Exception):
    """A cell parser's complaint; :func:`_parse_row` adds the place and the column."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


# The parsers below are pure and memoised: a card repeats the same few cell values.


@lru_cache(maxsize=4096)
def _money(text: str) -> Decimal | None:
    if not text:
        return None
    if not _DECIMAL.match(text):
        raise _Bad(f"{text!r} is not a decimal")
    value = Decimal(text)
    if value < 0:
        raise _Bad(f"{text!r} must not be negative")
    return value


@lru_cache(maxsize=4096)
def _seconds(text: str, minimum: int, default: int | None) -> int:
    if not text:
        if default is None:
            raise _Bad("is required")
        return default
    if not _INTEGER.match(text):
        raise _Bad(f"{text!r} is not a whole number of seconds")
    value = int(text)
    if value < minimum:
        raise _Bad(
            f"{text!r} " + ("must not be negative" if minimum == 0 else "must be at least 1")
        )
    return value


@lru_cache(maxsize=1024)
def _time(text: str, is_from: bool) -> int | None:
    if not text:
        return None
    m = _TIME.match(text)
    if not m:
        raise _Bad(f"{text!r} is not a time HH:MM")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise _Bad(f"{text!r} is not a time between 00:00 and 24:00")
    if hours == 24 and is_from:
        raise _Bad("'24:00' is the end of the day; start at 00:00 instead")
    return hours * 3600 + minutes * 60


@lru_cache(maxsize=1024)
def _days(text: str) -> tuple[int, ...]:
    if not text:
        return ()
    found: set[int] = set()
    for token in text.lower().split(","):
        first, dash, last = (part.strip() for part in token.partition("-"))
        ends = [first, last] if dash else [first]
        for name in ends:
            if name not in _DAY_NAMES:
                raise _Bad(
                    f"{text!r}: {name!r} is not a day{in_parentheses(name, _DAY_NAMES)}",
                    "write days like mon-fri, sat,sun or mon,wed,fri",
                )
        i, j = _DAY_NAMES[ends[0]], _DAY_NAMES[ends[-1]]
        found.add(i)
        while i != j:
            i = (i + 1) % 7
            found.add(i)
    return tuple(sorted(found))


@lru_cache(maxsize=4096)
def _prefix(text: str) -> str:
    if text and not (text.isascii() and text.isdigit()):
        hint = "write the digits after '+', e.g. 44 for +44" if text.startswith("+") else None
        raise _Bad(f"{text!r} is not a digit prefix", hint)
    return text


@lru_cache(maxsize=256)
def _number_type(text: str) -> str | None:
    if text and text not in NUMBER_TYPES:
        raise _Bad(
            f"{text!r} is not one of {list(NUMBER_TYPES)}" + in_parentheses(text, NUMBER_TYPES)
        )
    return text or None


@lru_cache(maxsize=1024)
def _origin(text: str) -> str | None:
    if text and not _ORIGIN.match(text):
        raise _Bad(f"{text!r} is not a country code (two capital letters, e.g. US)")
    return text or None


def _parse_row(cells: Mapping[str, str], line: int, source: str) -> _Row:
    get = cells.get
    column = "prefix"
    try:
        prefix = _prefix(get("prefix", ""))
        column = "number_type"
        number_type = _number_type(get("number_type", ""))
        column = "origin"
        origin = _origin(get("origin", ""))
        column = "connect_fee"
        connect_fee = _money(get("connect_fee", ""))
        column = "rate"
        rate = _money(get("rate", ""))
        if rate is None:
            raise _Bad("is required")
        column = "rate_unit"
        rate_unit = _seconds(get("rate_unit", ""), 1, None)
        column = "increment"
        increment = _seconds(get("increment", ""), 1, None)
        column = "from_second"
        from_second = _seconds(get("from_second", ""), 0, 0)
        column = "days"
        days = _days(get("days", ""))
        column = "time_from"
        time_from = _time(get("time_from", ""), True)
        column = "time_to"
        time_to = _time(get("time_to", ""), False)
        if time_from is not None and time_to is None:
            raise _Bad("time_from is set, so time_to is required")
        if time_from is not None and time_from == time_to:
            raise _Bad("equals time_from: an empty window (leave both empty for all day)")
        column = "time_from"
        if time_to is not None and time_from is None:
            raise _Bad("time_to is set, so time_from is required")
        column = "max_cost"
        max_cost = _money(get("max_cost", ""))
    except _Bad as bad:
        raise SchemaError(
            bad.message, location=Location(source, line), path=column, hint=bad.hint
        ) from None
    return _Row(
        line, prefix, get("destination", ""), number_type, origin, connect_fee, rate,
        rate_unit, increment, from_second, days, time_from, time_to, max_cost,
    )  # fmt: skip


# -- tariffs ---------------------------------------------------------------------------


_Key = tuple[str, str | None, str | None, tuple[int, ...], int | None, int | None]


def _tariffs(records: Sequence[tuple[int, Mapping[str, str]]], source: str) -> list[Tariff]:
    """Parse rows and group them into tariffs; every problem is reported, the first raised."""
    errors: list[SchemaError] = []
    groups: dict[_Key, list[_Row]] = {}
    for line, cells in records:
        try:
            row = _parse_row(cells, line, source)
        except SchemaError as error:
            errors.append(error)
            if len(errors) >= MAX_FINDINGS:
                break
            continue
        key = (row.prefix, row.number_type, row.origin, row.days, row.time_from, row.time_to)
        groups.setdefault(key, []).append(row)
    tariffs: list[Tariff] = []
    if not errors:  # a tariff missing a bad row would only repeat the complaint
        for order, rows in enumerate(groups.values()):
            try:
                tariffs.append(_tariff(rows, order, source))
            except SchemaError as error:
                errors.append(error)
    if errors:
        raise _all_of(errors)
    return tariffs


def _all_of(errors: list[SchemaError]) -> SchemaError:
    """The earliest error, carrying every finding (the command line shows them all)."""
    findings = sorted(
        (e.finding for e in errors), key=lambda f: f.location.line if f.location else 0
    )
    first = findings[0]
    return SchemaError(
        first.message,
        location=first.location,
        path=first.path,
        hint=first.hint,
        findings=tuple(findings),
    )


def _tariff(rows: list[_Row], order: int, source: str) -> Tariff:
    line = rows[0].line  # the tariff's place: its first row in the file
    by_second: dict[int, _Row] = {}
    for row in rows:
        twin = by_second.get(row.from_second)
        if twin is not None:
            raise SchemaError(
                f"{row.from_second} repeats the tier of line {twin.line} (same prefix, type, "
                "origin, days and times)",
                location=Location(source, row.line),
                path="from_second",
            )
        by_second[row.from_second] = row
    first = by_second.get(0)
    if first is None:
        row = min(rows, key=lambda r: r.from_second)
        raise SchemaError(
            f"{row.from_second}: this tariff has no tier starting at from_second 0",
            location=Location(source, row.line),
            path="from_second",
            hint="a tariff's first row must price the call from its first second",
        )
    fee = first.connect_fee if first.connect_fee is not None else _ZERO
    for row in rows:
        if row is first:
            continue
        for column, mine, theirs in (
            ("connect_fee", row.connect_fee, fee),
            ("max_cost", row.max_cost, first.max_cost),
        ):
            if mine is not None and mine != theirs:
                raise SchemaError(
                    f"{mine} differs from the first tier's ({theirs or 'none'}, line "
                    f"{first.line}); a tariff has one {column}",
                    location=Location(source, row.line),
                    path=column,
                    hint="leave it empty on later tiers",
                )
    if len(rows) > 1:
        rows = sorted(rows, key=lambda r: r.from_second)
    tiers = tuple(Tier(r.from_second, r.rate, r.rate_unit, r.increment, r.line) for r in rows)
    return Tariff(
        prefix=first.prefix,
        number_type=first.number_type,
        origin=first.origin,
        tiers=tiers,
        connect_fee=fee,
        max_cost=first.max_cost,
        days=first.days,
        time_from=first.time_from,
        time_to=first.time_to,
        destination=first.destination,
        line=line,
        order=order,
    )


# -- sidecar ---------------------------------------------------------------------------


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _load_sidecar(path: Path) -> tuple[str | None, Rounding]:
    """Currency and rounding from ``R.yaml`` beside ``R.csv``; defaults when absent.

    Read and validated like every other data file (``schemas/ratecard.schema.json``),
    so its errors name the field path and line the same way."""
    if not path.exists() or _only_comments(_read_text(str(path))):
        return None, Rounding()
    from policy.data.documents import load_document

    document = load_document(path, schema="ratecard")
    data = document.data if isinstance(document.data, dict) else {}
    rounding = data.get("rounding", {})
    return data.get("currency"), Rounding(
        method=rounding.get("method", "half_up"), decimals=rounding.get("decimals", 2)
    )
