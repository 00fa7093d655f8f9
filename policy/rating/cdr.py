"""CDR: stream calls from call-detail files in constant memory, one row at a time.

Formats, by file extension:

- ``.csv`` — either ccpolicy's own columns (the call fields: ``id, direction,
  context, user, from, to, start, duration``; only ``id, direction, to, start`` are
  required) or the **PSTN usage report** itself (a header with ``Call ID``), whose
  columns are mapped to calls (see :data:`CALL_TYPES` and ``docs/rating.md``).
- ``.jsonl`` / ``.ndjson`` — one call object per line.
- ``.yaml`` / ``.yml`` — a list of calls, read event by event (LibYAML when present),
  never loaded whole. ``.json`` — a JSON array (read whole: use JSON Lines for big files).

:func:`read_calls` yields a :class:`~policy.data.call.Call` per good row and a :class:`BadRow`
(row number, line, field, reason, the original record) per malformed one; a file that
cannot be read at all (missing, bad header, broken YAML) raises a located
:class:`~policy.support.errors.PolicyError`. Whether a bad row stops the run is the caller's call.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import yaml

from policy.data.call import Call, new_call
from policy.data.documents import LONE_SURROGATE, MAX_DOCUMENT_BYTES, has_lone_surrogate
from policy.language.source import display_name
from policy.support.errors import Finding, InputError, Location, PolicyError, SchemaError
from policy.support.files import read_bytes
from policy.support.suggest import in_parentheses

_new = tuple.__new__  # builds a named tuple without its Python __new__
assert Location._fields == ("file", "line", "column")

__all__ = [
    "CALL_COLUMNS",
    "CALL_FORMATS",
    "CALL_TYPES",
    "EXCERPT_CHARS",
    "MAX_BAD_ROWS",
    "MAX_WHOLE_CALLS_BYTES",
    "BadRow",
    "CallSource",
    "CallStream",
    "CheckedCalls",
    "RowError",
    "bad_row_finding",
    "call_from_fields",
    "excerpt",
    "open_calls",
    "read_calls",
    "sniff_calls_format",
    "usage_call_type",
]

#: ccpolicy's own CSV columns (the call fields).
CALL_COLUMNS = ("id", "direction", "context", "user", "from", "to", "start", "duration")
_REQUIRED = ("id", "direction", "to", "start")

#: PSTN usage report ``Call Type`` → (direction, context). The report's types are finer
#: than the call fields; transfers and forwards are outbound legs placed for a user.
CALL_TYPES: dict[str, tuple[str, str]] = {
    "user_in": ("inbound", "user"),
    "user_out": ("outbound", "user"),
    "user_out_conf": ("outbound", "meeting"),
    "user_out_transfer": ("outbound", "user"),
    "user_out_forwarding": ("outbound", "user"),
    "conf_in": ("inbound", "meeting"),
    "conf_out": ("outbound", "meeting"),
    "unassigned_in": ("inbound", "user"),
    "ucap_in": ("inbound", "auto_attendant"),
    "ucap_out": ("outbound", "auto_attendant"),
}

_DIRECTIONS = frozenset(("outbound", "inbound"))
CONTEXTS = ("user", "meeting", "auto_attendant", "call_queue")
_CONTEXTS = frozenset(CONTEXTS)
_UPN = re.compile(r"[^@\s]+@[^@\s]+")
_E164 = re.compile(r"\+[0-9]{2,16}")
_TO = re.compile(r"\+[0-9]{2,16}|[0-9*#]{1,8}")
_INT = re.compile(r"[0-9]+")


def usage_call_type(direction: str, context: str) -> str:
    """The usage report's ``Call Type`` of a call (the inverse of :data:`CALL_TYPES`)."""
    if context == "user":
        return "user_out" if direction == "outbound" else "user_in"
    if context == "meeting":
        return "conf_out" if direction == "outbound" else "conf_in"
    return "ucap_out" if direction == "outbound" else "ucap_in"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A malformed record: where it is, which field, why — and its original text."""

    row: int  # 1-based record number (the header is not a record)
    line: int  # file line where the record starts
    field: str
    reason: str
    record: str

    def error(self, source: str) -> SchemaError:
        return SchemaError(
            self.reason,
            location=Location(source, self.line),
            path=f"row {self.row}: {self.field}",
            code="row",
        )


class RowError(ValueError):
    """Raised while converting one record; the reader turns it into a :class:`BadRow`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


# ---------------------------------------------------------------------------- fields


def _parse_start(text: str, *, assume_utc: bool) -> datetime:
    try:
        start = datetime.fromisoformat(text)
    except ValueError:
        raise RowError(
            "start", f"'{text}' is not an ISO-8601 date-time such as 2026-11-02T09:00:00-05:00"
        ) from None
    if start.tzinfo is None:
        if not assume_utc:
            raise RowError("start", f"'{text}' has no UTC offset (add one, e.g. -05:00 or Z)")
        start = start.replace(tzinfo=timezone.utc)
    return start


def _duration(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RowError("duration", f"{value!r} is not a number of seconds")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and _INT.fullmatch(value.strip()):
        seconds = int(value)
    else:
        raise RowError("duration", f"'{value}' must be a whole number of seconds ≥ 0")
    if seconds < 0:
        raise RowError("duration", f"'{value}' must be a whole number of seconds ≥ 0")
    return seconds


def _text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowError(name, f"{value!r} must be a string")
    return value


def call_from_fields(
    data: Mapping[str, Any],
    *,
    assume_utc: bool = False,
    where: Location | None = None,
    row: int = 0,
) -> Call:
    """A :class:`Call` from call fields (strings, or JSON values), checked field by field.

    Raises :class:`RowError` naming the first bad field. Numbers are only checked for
    their shape here; the engine rejects impossible ones (``EvaluationError``).
    """
    for name in _REQUIRED:
        if data.get(name) in (None, ""):
            raise RowError(name, f"missing required field '{name}'")
    call_id = data["id"]
    if not isinstance(call_id, str):
        raise RowError("id", f"{call_id!r} must be a string")
    direction = data["direction"]
    if direction not in _DIRECTIONS:
        raise RowError(
            "direction",
            f"{direction!r} is not one of ['outbound', 'inbound']"
            + in_parentheses(str(direction), ("outbound", "inbound")),
        )
    context = data.get("context") or "user"
    if context not in _CONTEXTS:
        raise RowError(
            "context",
            f"{context!r} is not one of {list(CONTEXTS)}" + in_parentheses(str(context), CONTEXTS),
        )
    user = _text(data, "user")
    if user is not None and not _UPN.fullmatch(user):
        raise RowError("user", f"'{user}' is not a user principal name such as a@contoso.com")
    from_ = _text(data, "from")
    if from_ is not None and not _E164.fullmatch(from_):
        raise RowError("from", f"'{from_}' is not an E.164 number such as +14255550123")
    to = _text(data, "to")
    if to is None or not _TO.fullmatch(to):
        raise RowError("to", f"'{to}' is neither an E.164 number nor a short code")
    start = data["start"]
    if not isinstance(start, str):
        raise RowError("start", f"{start!r} must be an ISO-8601 date-time string")
    return Call(
        call_id,
        direction,
        to,
        _parse_start(start, assume_utc=assume_utc),
        context,
        user,
        from_,
        _duration(data.get("duration")),
        where,
        f"row {row}" if row else "",
    )


def _report_number(text: str) -> str | None:
    """A usage report's number: masked (``*``) or empty → None; bare digits get their ``+``."""
    text = text.strip()
    if not text or "*" in text:
        return None
    if text.isdigit() and len(text) > 8:
        return "+" + text
    return text


def _usage_report_call(cells: Mapping[str, str], where: Location, row: int) -> Call:
    """Map one PSTN usage report row to a call (see ``docs/rating.md``)."""
    kind = cells.get("Call Type", "").strip()
    mapped = CALL_TYPES.get(kind)
    if mapped is None:
        raise RowError(
            "Call Type",
            f"'{kind}' is not one of {sorted(CALL_TYPES)}" + in_parentheses(kind, CALL_TYPES),
        )
    direction, context = mapped
    to = _report_number(cells.get("Destination Number", "")) or ""
    fields = {
        "id": cells.get("Call ID", "").strip() or cells.get("UsageId", "").strip(),
        "direction": direction,
        "context": context,
        "user": cells.get("UPN", "").strip() or None,
        "from": _report_number(cells.get("Caller ID", "")),
        "to": to,
        "start": cells.get("Start Time", "").strip(),
        "duration": cells.get("Duration Seconds", "").strip(),
    }
    try:
        return call_from_fields(fields, assume_utc=True, where=where, row=row)
    except RowError as exc:
        column = {
            "id": "Call ID",
            "user": "UPN",
            "from": "Caller ID",
            "to": "Destination Number",
            "start": "Start Time",
            "duration": "Duration Seconds",
        }.get(exc.field, exc.field)
        raise RowError(column, exc.reason) from None


# ---------------------------------------------------------------------------- readers


class CallStream:
    """The calls of one file, streamed: iterate once; ``consumed`` counts the bytes read
    so far (against ``size``) for progress bars. Opening checks the file.

    ``path`` may be a :class:`CallSource` (from :func:`open_calls`: standard input, or a
    file whose format was told by its content)."""

    def __init__(self, path: str | os.PathLike[str] | CallSource) -> None:
        if isinstance(path, CallSource):
            p, self.source, self.suffix = Path(path.path), path.name, "." + path.format
        else:
            p = Path(path)
            self.source = display_name(p)
            self.suffix = p.suffix.lower()
        if self.suffix not in (".csv", ".jsonl", ".ndjson", ".yaml", ".yml", ".json"):
            raise InputError(
                f"cannot read calls from a '{self.suffix or 'extensionless'}' file",
                location=Location(self.source),
                hint="use .csv (calls or a PSTN usage report), .jsonl, .yaml or .json",
            )
        try:
            self.handle = open(p, encoding="utf-8-sig", newline="")  # noqa: SIM115
            self.size = os.fstat(self.handle.fileno()).st_size
        except OSError:
            read_bytes(p, self.source, limit=0)  # the one wording for a file that cannot be read
            raise

    @property
    def consumed(self) -> int:
        """Bytes of the file read so far (by blocks: for progress bars)."""
        try:
            return os.lseek(self.handle.fileno(), 0, os.SEEK_CUR)
        except (ValueError, OSError):  # closed: all of it
            return self.size

    def close(self) -> None:
        self.handle.close()

    def read(self, size: int = -1) -> str:
        return self.handle.read(size)

    def __iter__(self) -> Iterator[Call | BadRow]:
        with self.handle:
            suffix, source = self.suffix, self.source
            if suffix == ".csv":
                yield from _csv_calls(self.handle, source)
            elif suffix in (".jsonl", ".ndjson"):
                yield from _jsonl_calls(self.handle, source)
            elif suffix == ".json":
                yield from _json_calls(self, source)
            else:
                yield from _yaml_calls(self, source)


def read_calls(path: str | os.PathLike[str] | CallSource) -> CallStream:
    """Stream the calls of ``path`` (format by extension, or as :func:`open_calls` told
    it); see the module docstring."""
    return CallStream(path)


def _record_text(cells: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _csv_calls(handle: Iterator[str], source: str) -> Iterator[Call | BadRow]:
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"not a CSV file: {exc}", location=Location(source, 1)) from None
    header = [h.strip() for h in header]
    if "Call ID" in header or "UsageId" in header:
        missing = [c for c in ("Call Type", "Destination Number", "Start Time") if c not in header]
        usage_report = True
    else:
        unknown = [h for h in header if h not in CALL_COLUMNS]
        if unknown:
            raise SchemaError(
                f"unknown column '{unknown[0]}'",
                location=Location(source, 1),
                path="header",
                hint=f"the columns are {', '.join(CALL_COLUMNS)} — or a PSTN usage report",
            )
        missing = [c for c in _REQUIRED if c not in header]
        usage_report = False
    if missing:
        raise SchemaError(
            f"missing column '{missing[0]}'", location=Location(source, 1), path="header"
        )
    if usage_report:
        yield from _usage_report_rows(reader, header, source)
    else:
        yield from _own_rows(reader, header, source)


def _next_row(reader: Any, source: str, line: int) -> list[str] | None:
    """The next record of ``reader`` (None at the end); a broken CSV is a located error."""
    try:
        cells: list[str] = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise InputError(f"broken CSV: {exc}", location=Location(source, line)) from None
    return cells


def _usage_report_rows(reader: Any, header: list[str], source: str) -> Iterator[Call | BadRow]:
    width = len(header)
    row = 0
    line = reader.line_num + 1
    while (cells := _next_row(reader, source, line)) is not None:
        if not cells:
            line = reader.line_num + 1
            continue
        row += 1
        if len(cells) != width:
            yield _wrong_width(row, line, cells, width)
        else:
            try:
                yield _usage_report_call(
                    dict(zip(header, cells, strict=True)), Location(source, line), row
                )
            except RowError as exc:
                yield BadRow(row, line, exc.field, exc.reason, _record_text(cells))
        line = reader.line_num + 1


def _wrong_width(row: int, line: int, cells: list[str], width: int) -> BadRow:
    reason = f"has {len(cells)} cells, the header has {width}"
    return BadRow(row, line, "(row)", reason, _record_text(cells))


_GOOD_USERS_LIMIT = 4096  # user texts remembered as well-formed (bounded)


def _own_rows(reader: Any, header: list[str], source: str) -> Iterator[Call | BadRow]:
    """ccpolicy's own CSV columns → calls. The usual row takes a fast path (cells by
    position, well-formed users remembered, the previous row's start reused); a row the
    fast path doubts goes through :func:`call_from_fields`, which names the bad field."""
    width = len(header)
    column = {name: i for i, name in enumerate(header)}  # the last of a repeated name
    # Absent optional columns read the empty cell appended to every row (index width).
    i_id, i_direction, i_to, i_start = (column[name] for name in _REQUIRED)
    i_context, i_user, i_from, i_duration = (
        column.get(name, width) for name in ("context", "user", "from", "duration")
    )
    good_users: set[str] = set()
    last_text, last_start = "", None
    directions, contexts = _DIRECTIONS, _CONTEXTS
    upn, e164, to_shape = _UPN.fullmatch, _E164.fullmatch, _TO.fullmatch
    parse = datetime.fromisoformat
    row = 0
    line = reader.line_num + 1
    try:
        for cells in reader:
            if not cells:
                line = reader.line_num + 1
                continue
            row += 1
            if len(cells) != width:
                yield _wrong_width(row, line, cells, width)
                line = reader.line_num + 1
                continue
            cells.append("")
            call_id = cells[i_id]
            direction = cells[i_direction]
            context = cells[i_context] or "user"
            user = cells[i_user] or None
            from_ = cells[i_from] or None
            to = cells[i_to]
            text = cells[i_start]
            seconds = cells[i_duration]
            start = last_start if text == last_text else None
            if (
                call_id
                and direction in directions
                and context in contexts
                and (user is None or user in good_users or _remember(user, upn, good_users))
                and (from_ is None or e164(from_))
                and to
                and to_shape(to)
            ):
                if start is None:
                    try:
                        start = parse(text)
                    except ValueError:
                        start = None
                    if start is not None and start.tzinfo is not None:
                        last_text, last_start = text, start
                    else:
                        start = None
                duration: int | None = None
                if seconds:
                    duration = int(seconds) if seconds.isdigit() and seconds.isascii() else -1
                if start is not None and (duration is None or duration >= 0):
                    yield new_call(
                        call_id,
                        direction,
                        to,
                        start,
                        context,
                        user,
                        from_,
                        duration,
                        _new(Location, (source, line, 0)),
                        f"row {row}",
                    )
                    line = reader.line_num + 1
                    continue
            del cells[width]
            try:  # the slow path: the exact error (or a call the fast path doubted)
                yield _own_call(dict(zip(header, cells, strict=True)), Location(source, line), row)
            except RowError as exc:
                yield BadRow(row, line, exc.field, exc.reason, _record_text(cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"broken CSV: {exc}", location=Location(source, line)) from None


def _remember(user: str, upn: Callable[[str], object], good: set[str]) -> bool:
    if not upn(user):
        return False
    if len(good) >= _GOOD_USERS_LIMIT:
        good.clear()
    good.add(user)
    return True


def _own_call(cells: Mapping[str, str], where: Location, row: int) -> Call:
    return call_from_fields(cells, where=where, row=row)


def _mapping_call(item: object, row: int, line: int, record: str, source: str) -> Call | BadRow:
    if not isinstance(item, dict):
        return BadRow(row, line, "(row)", "a call must be an object with id, to, …", record)
    lone = _lone_surrogate(item)
    if lone is not None:  # JSON's "\ud800": text that can be neither printed nor stored
        printable = record.encode("utf-8", "backslashreplace").decode("utf-8")
        return BadRow(row, line, lone, LONE_SURROGATE, printable)
    unknown = [k for k in item if k not in CALL_COLUMNS]
    if unknown:
        return BadRow(row, line, str(unknown[0]), f"unknown field '{unknown[0]}'", record)
    try:
        return call_from_fields(item, where=Location(source, line), row=row)
    except RowError as exc:
        return BadRow(row, line, exc.field, exc.reason, record)


def _lone_surrogate(item: dict[Any, Any]) -> str | None:
    """The field (``(row)`` for a key) whose text holds a lone surrogate, if any."""
    for key, value in item.items():
        for text, field in ((key, "(row)"), (value, key)):
            if isinstance(text, str) and has_lone_surrogate(text):
                return str(field).encode("utf-8", "backslashreplace").decode("utf-8")
    return None


def _jsonl_calls(handle: Iterator[str], source: str) -> Iterator[Call | BadRow]:
    row = 0
    for line, text in enumerate(handle, 1):
        if not text.strip():
            continue
        row += 1
        record = text.rstrip("\r\n")
        try:
            item = json.loads(text)
        except ValueError as exc:
            yield BadRow(row, line, "(row)", f"not JSON: {exc}", record)
            continue
        yield _mapping_call(item, row, line, record, source)


def _json_calls(handle: CallStream, source: str) -> Iterator[Call | BadRow]:
    try:
        data = json.load(handle)
    except ValueError as exc:
        raise InputError(f"not JSON: {exc}", location=Location(source)) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise SchemaError("a calls file holds a list of calls", location=Location(source, 1))
    for row, item in enumerate(data, 1):
        yield _mapping_call(item, row, 0, json.dumps(item, ensure_ascii=False), source)


# ---- YAML, event by event (a list of flat call mappings)

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML without LibYAML
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_YAML_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_YAML_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_YAML_INT = re.compile(r"[-+]?[0-9]+")


def _line(event: yaml.Event) -> int:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _yaml_scalar(event: yaml.ScalarEvent) -> object:
    value: str = event.value
    if not event.implicit[0] or event.style:
        return value
    if value in _YAML_NULL:
        return None
    if value in _YAML_BOOL:
        return _YAML_BOOL[value]
    if _YAML_INT.fullmatch(value):
        return int(value)
    return value


def _yaml_value(events: Iterator[yaml.Event], first: yaml.Event, source: str) -> object:
    if isinstance(first, yaml.ScalarEvent):
        return _yaml_scalar(first)
    if isinstance(first, yaml.MappingStartEvent):
        out: dict[str, object] = {}
        while True:
            key_event = next(events)
            if isinstance(key_event, yaml.MappingEndEvent):
                return out
            key = _yaml_value(events, key_event, source)
            value = _yaml_value(events, next(events), source)
            out[str(key)] = value
    if isinstance(first, yaml.SequenceStartEvent):
        items: list[object] = []
        while True:
            event = next(events)
            if isinstance(event, yaml.SequenceEndEvent):
                return items
            items.append(_yaml_value(events, event, source))
    if isinstance(first, yaml.AliasEvent):
        raise InputError(
            "aliases are not supported in calls files",
            location=Location(source, _line(first)),
        )
    raise InputError(  # pragma: no cover - the parser yields nothing else here
        f"unexpected YAML {type(first).__name__}",
        location=Location(source, _line(first)),
    )


def _yaml_calls(handle: CallStream, source: str) -> Iterator[Call | BadRow]:
    events = yaml.parse(handle, Loader=_Loader)
    row = 0
    try:
        for event in events:
            if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
                continue
            if isinstance(event, (yaml.DocumentEndEvent, yaml.StreamEndEvent)):
                continue
            if isinstance(event, yaml.ScalarEvent) and event.value in _YAML_NULL:
                continue  # an empty document
            if not isinstance(event, yaml.SequenceStartEvent):
                raise SchemaError(
                    "a calls file holds a list of calls",
                    location=Location(source, _line(event)),
                )
            while True:
                item_event = next(events)
                if isinstance(item_event, yaml.SequenceEndEvent):
                    break
                row += 1
                line = _line(item_event)
                item = _yaml_value(events, item_event, source)
                record = json.dumps(item, ensure_ascii=False, default=str)
                yield _mapping_call(item, row, line, record, source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(
            f"not valid YAML: {exc.problem}",
            location=Location(source, mark.line + 1 if mark else 0),
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", location=Location(source)) from None


# ---------------------------------------------------------------------------- one reader
#
# Every command that reads calls (eval, explain, diff, ledger authorize/charge, rate,
# report funding, check) opens them with :func:`open_calls`: one decision of the format,
# standard input as ``-``, and the same located, capped error report.

#: The formats a calls file may have (``CallSource.format``).
CALL_FORMATS = ("csv", "jsonl", "yaml", "json")
#: YAML and JSON calls files are read whole to check them with exact field paths; above
#: this size they are refused with a hint to use JSON Lines (streamed at constant memory).
MAX_WHOLE_CALLS_BYTES = MAX_DOCUMENT_BYTES
#: Bad rows reported before the rest are only counted.
MAX_BAD_ROWS = 20
#: A bad record is quoted up to this many characters.
EXCERPT_CHARS = 120

_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
_SNIFF_BYTES = 64 * 1024


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (``…`` marks the cut)."""
    one_line = text.replace("\r", " ").replace("\n", " ")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def sniff_calls_format(head: str) -> str:
    """The format of a calls file from its first bytes (no telling extension): ``[`` a JSON
    array, ``{`` JSON Lines when the first line is a whole object (else one JSON object),
    a first line naming the call columns a CSV, anything else YAML."""
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "json"
    first = text.split("\n", 1)[0].strip()
    if text.startswith("{"):
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl"
    if "," in first:
        columns = {c.strip().strip('"') for c in first.split(",")}
        if {"id", "direction"} <= columns or "Call ID" in columns or "UsageId" in columns:
            return "csv"
    return "yaml"


class CallSource:
    """Where calls come from: ``path`` to read, ``name`` for messages, ``format`` (one of
    :data:`CALL_FORMATS`). A context manager: standard input is spooled to a temporary
    file (removed on exit) so that the calls can be checked, then decided, in two reads."""

    def __init__(self, path: str, name: str, format: str, temporary: bool = False) -> None:
        self.path = path
        self.name = name
        self.format = format
        self._temporary = temporary

    def __enter__(self) -> CallSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._temporary:
            self._temporary = False
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def __fspath__(self) -> str:
        return self.path

    def stream(self) -> CallStream:
        """Every record, good (:class:`Call`) or bad (:class:`BadRow`), streamed."""
        return CallStream(self)

    def checked(
        self, check: Callable[[Call], None] | None = None, *, whole: bool | None = None
    ) -> CheckedCalls:
        """The calls, every record checked first (and ``check(call)``, which raises a
        located :class:`PolicyError` for a call it refuses): a :class:`SchemaError`
        carrying up to :data:`MAX_BAD_ROWS` findings when anything is wrong.

        CSV and JSON Lines are streamed (two reads, constant memory). YAML and JSON are
        read whole, with exact field paths, up to :data:`MAX_WHOLE_CALLS_BYTES` (``whole``
        False streams them as ``rate`` does)."""
        if whole is None:
            whole = self.format in ("yaml", "json")
        if whole:
            return _whole_calls(self, check)
        return _streamed_calls(self, check)


def open_calls(path: str | os.PathLike[str], stdin: IO[bytes] | None = None) -> CallSource:
    """The calls file ``path`` — ``-`` is standard input — with its format: by extension
    (``.csv``, ``.jsonl``/``.ndjson``, ``.yaml``/``.yml``, ``.json``), else by content
    (:func:`sniff_calls_format`)."""
    text = os.fspath(path)
    if text == "-":
        return _spool_stdin(stdin if stdin is not None else sys.stdin.buffer)
    name = display_name(Path(text))
    suffix = Path(text).suffix.lower()
    if os.path.isdir(text):
        raise InputError("is a directory, not a file", location=Location(name))
    format = _SUFFIX_FORMATS.get(suffix)
    if format is None:
        try:
            with open(text, "rb") as handle:
                head = handle.read(_SNIFF_BYTES)
        except OSError:
            read_bytes(text, name)  # the one wording for a file that cannot be read
            raise
        format = sniff_calls_format(head.decode("utf-8", errors="replace"))
    return CallSource(text, name, format)


def _spool_stdin(stdin: IO[bytes]) -> CallSource:
    fd, temp = tempfile.mkstemp(prefix="ccpolicy-stdin-", suffix=".calls")
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            while block := stdin.read(1 << 20):
                if len(head) < _SNIFF_BYTES:
                    head += block[: _SNIFF_BYTES - len(head)]
                out.write(block)
    except BaseException:
        os.unlink(temp)
        raise
    return CallSource(
        temp, "<stdin>", sniff_calls_format(head.decode("utf-8", "replace")), temporary=True
    )


def bad_row_finding(bad: BadRow, source: str) -> Finding:
    """A bad record as a finding: its place, the field, why — and a short excerpt of it."""
    return Finding(
        "error",
        bad.reason,
        location=Location(source, bad.line),
        path=f"row {bad.row}: {bad.field}",
        source_line=excerpt(bad.record) if bad.record else None,
        code="row",
    )


class _Collector:
    """Findings up to :data:`MAX_BAD_ROWS`; the rest counted."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.findings: list[Finding] = []
        self.more = 0

    def add(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if len(self.findings) < MAX_BAD_ROWS:
                self.findings.append(finding)
            else:
                self.more += 1

    def check(self, check: Callable[[Call], None] | None, call: Call) -> None:
        if check is None:
            return
        try:
            check(call)
        except PolicyError as exc:
            self.add(exc.findings)

    def raise_any(self) -> None:
        if not self.findings:
            return
        findings = list(self.findings)
        if self.more:
            findings.append(
                Finding(
                    "error",
                    f"{self.more:,} more bad row{'s' * (self.more != 1)} not shown "
                    f"(the first {MAX_BAD_ROWS} are)",
                    location=Location(self.source),
                    code="row",
                )
            )
        raise SchemaError.from_finding(findings[0], findings=tuple(findings))


class CheckedCalls:
    """Calls checked whole: iterate as often as needed (a streamed file is read again).
    ``may_repeat(id)`` is False for an id seen once (a hash says so: it may be True for a
    few ids that are not repeated, never False for one that is)."""

    def __init__(
        self, source: CallSource, calls: list[Call] | None, repeated: frozenset[int], count: int
    ) -> None:
        self.source = source
        self._calls = calls
        self._repeated = repeated
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Call]:
        if self._calls is not None:
            yield from self._calls
            return
        for item in self.source.stream():
            if isinstance(item, BadRow):  # the file changed since it was checked
                raise item.error(self.source.name)
            yield item

    def may_repeat(self, call_id: str) -> bool:
        return (hash(call_id) or 1) in self._repeated


def _streamed_calls(source: CallSource, check: Callable[[Call], None] | None) -> CheckedCalls:
    found = _Collector(source.name)
    seen: set[int] = set()  # the ids' hashes: 8 bytes (plus the set's slot) per distinct id
    repeated: set[int] = set()
    count = 0
    for item in source.stream():
        if isinstance(item, BadRow):
            found.add((bad_row_finding(item, source.name),))
            continue
        count += 1
        h = hash(item.id) or 1
        if h in seen:
            repeated.add(h)
        else:
            seen.add(h)
        found.check(check, item)
    found.raise_any()
    return CheckedCalls(source, None, frozenset(repeated), count)


def _whole_calls(source: CallSource, check: Callable[[Call], None] | None) -> CheckedCalls:
    from policy.data.call import calls_from_document
    from policy.data.documents import load_document, parse_document

    try:
        size = os.path.getsize(source.path)
    except OSError:
        size = 0
    if size > MAX_WHOLE_CALLS_BYTES:
        raise InputError(
            f"a {source.format.upper()} calls file is read whole: this one is {size:,} bytes, "
            f"more than the {MAX_WHOLE_CALLS_BYTES:,} allowed",
            location=Location(source.name),
            hint="write the calls as JSON Lines (.jsonl, one call per line): it is streamed "
            "at constant memory",
        )
    if source.name == "<stdin>" or Path(source.path).suffix.lower() not in _SUFFIX_FORMATS:
        raw = read_bytes(source.path, source.name)
        document = parse_document(raw, source.name)  # YAML reads JSON too
    else:
        document = load_document(source.path)
    schema_findings = document.validate("calls")
    found = _Collector(source.name)
    found.add(schema_findings)
    found.raise_any()
    calls = list(calls_from_document(document))
    for call in calls:
        found.check(check, call)
    found.raise_any()
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.id] = counts.get(call.id, 0) + 1
    repeated = frozenset((hash(i) or 1) for i, n in counts.items() if n > 1)
    return CheckedCalls(source, calls, repeated, len(calls))
