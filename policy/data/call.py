"""Call: one PSTN call (or call attempt) as the engine sees it."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from policy.support.errors import Finding, Location, SchemaError

if TYPE_CHECKING:
    from policy.data.documents import Document

__all__ = [
    "Call",
    "as_call",
    "call_from_mapping",
    "calls_from_document",
    "month_of",
    "new_call",
]

_UTC = timezone.utc
_new = tuple.__new__
_MONTHS: dict[int, str] = {}  # year * 16 + month → "YYYY-MM"


def month_of(start: datetime) -> str:
    """The calendar month (UTC) of an aware ``start``, as ``"YYYY-MM"``.

    An offset (less than a day) can move a moment into another month only on the first
    or the last days of a month, so most starts need no conversion to UTC.
    """
    if start.tzinfo is _UTC or 2 <= start.day <= 27:
        key = start.year * 16 + start.month
    else:
        try:
            utc = start.astimezone(_UTC)
        except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
            utc = start
        key = utc.year * 16 + utc.month
    month = _MONTHS.get(key)
    if month is None:
        month = _MONTHS[key] = f"{key >> 4:04d}-{key & 15:02d}"
    return month


class _CallFields(NamedTuple):
    id: str
    direction: str  # outbound | inbound
    to: str
    start: datetime  # aware
    context: str
    user: str | None
    from_: str | None
    duration: int | None  # None: authorize before the call
    where: Location | None  # where the call was written (for messages)
    path: str  # its field path prefix in that file, e.g. "[3]"
    month: str  # calendar month of the start, UTC ("2026-11"), computed


class Call(_CallFields):
    """One PSTN call (or call attempt): immutable.

    A named tuple rather than a frozen dataclass: readers build one per record, and a
    tuple is built five times faster. ``month`` is computed from ``start``; build calls
    with the fields up to ``path`` and change them with :meth:`replace`.
    """

    __slots__ = ()

    def __new__(
        cls,
        id: str,
        direction: str,
        to: str,
        start: datetime,
        context: str = "user",
        user: str | None = None,
        from_: str | None = None,
        duration: int | None = None,
        where: Location | None = None,
        path: str = "",
    ) -> Call:
        month = month_of(start)
        return _new(
            cls, (id, direction, to, start, context, user, from_, duration, where, path, month)
        )

    def replace(self, **changes: Any) -> Call:
        """A copy with some fields changed (``month`` follows ``start``)."""
        fields = self._asdict()
        del fields["month"]
        fields.update(changes)
        return Call(**fields)

    def __repr__(self) -> str:
        return (
            f"Call(id={self.id!r}, direction={self.direction!r}, to={self.to!r}, "
            f"start={self.start!r}, context={self.context!r}, user={self.user!r}, "
            f"from_={self.from_!r}, duration={self.duration!r})"
        )

    def field_path(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def to_dict(self) -> dict[str, Any]:
        """The call's fields (absent ones left out), as from_dict reads them."""
        record = {
            "id": self.id,
            "direction": self.direction,
            "context": self.context,
            "user": self.user,
            "from": self.from_,
            "to": self.to,
            "start": self.start.isoformat(),
            "duration": self.duration,
        }
        return {k: v for k, v in record.items() if v is not None}

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        source: str = "<call>",
        line: int = 0,
        path: str = "",
        validated: bool = False,
    ) -> Call:
        """Build a Call from its fields (:func:`call_from_mapping`, the one dict path)."""
        return call_from_mapping(data, source=source, line=line, path=path, validated=validated)


# ---- the one way from a mapping of SPEC fields to a Call -------------------------------
#
# A server hands the engine a plain dict per request, so this runs on every call attempt.
# The fast path accepts exactly-typed, well-formed fields only (a subset of what the call
# schema allows, checked by hand: no jsonschema); anything else takes the full path, which
# validates with the schema and raises every finding with its field path.

_KEYS = frozenset(("id", "direction", "context", "user", "from", "to", "start", "duration"))
_DIRECTIONS = frozenset(("outbound", "inbound"))
_CONTEXTS = frozenset(("user", "meeting", "auto_attendant", "call_queue"))
_UPN = re.compile(r"[^@\s]+@[^@\s]+").fullmatch
_E164 = re.compile(r"\+[0-9]{2,16}").fullmatch
_TO = re.compile(r"\+[0-9]{2,16}|[0-9*#]{1,8}").fullmatch
_START = re.compile(
    r"....-..-..T..:..(?::..(?:\.[0-9]{1,6})?)?(?:Z|[+-]..:..)", re.DOTALL
).fullmatch  # the shape only: fromisoformat checks the digits and the calendar
_parse_start = datetime.fromisoformat
_NOWHERE = Location("<call>", 0)
_STARTS: dict[str, tuple[datetime, str]] = {}  # start text → (moment, month): a switch's
_STARTS_MAX = 4096  # calls of one second share their start, so most lookups hit


def _start_of(text: str) -> tuple[datetime, str] | None:
    """A well-formed start's moment and month (remembered), or None for the full path."""
    if not _START(text):
        return None
    try:
        moment = _parse_start(text[:-1] + "+00:00" if text[-1] == "Z" else text)
    except ValueError:
        return None
    if not 1900 <= moment.year <= 2999:
        return None
    if len(_STARTS) >= _STARTS_MAX:
        _STARTS.clear()
    seen = _STARTS[text] = (moment, month_of(moment))
    return seen


def call_from_mapping(
    data: Mapping[str, Any],
    *,
    source: str = "<call>",
    line: int = 0,
    path: str = "",
    validated: bool = False,
) -> Call:
    """A :class:`Call` from a mapping of SPEC fields (a JSON body, a calls file's record).

    Raises :class:`SchemaError` carrying every finding (field paths prefixed with ``path``)
    when the mapping breaks the call schema. ``validated`` skips the schema for records
    already checked with their document.
    """
    if type(data) is dict and data.keys() <= _KEYS:
        get = data.get
        call_id = get("id")
        direction = get("direction")
        to = get("to")
        start = get("start")
        context = get("context", "user")
        user = get("user")
        from_ = get("from")
        duration = get("duration")
        if (
            type(call_id) is str
            and call_id
            and direction in _DIRECTIONS
            and context in _CONTEXTS
            and type(to) is str
            and _TO(to)
            and type(start) is str
            and ((type(user) is str and _UPN(user)) or (user is None and "user" not in data))
            and ((type(from_) is str and _E164(from_)) or (from_ is None and "from" not in data))
            and (
                (type(duration) is int and duration >= 0)
                or (duration is None and "duration" not in data)
            )
        ):
            seen = _STARTS.get(start)
            if seen is None:
                seen = _start_of(start)
            if seen is not None:
                where = _NOWHERE if line == 0 and source == "<call>" else Location(source, line)
                moment, month = seen
                return _new(
                    Call,
                    (
                        call_id,
                        direction,
                        to,
                        moment,
                        context,
                        user,
                        from_,
                        duration,
                        where,
                        path,
                        month,
                    ),
                )
    return _checked_call(data, source=source, line=line, path=path, validated=validated)


def _checked_call(
    data: Mapping[str, Any], *, source: str, line: int, path: str, validated: bool
) -> Call:
    """The full path: the call schema's findings, then the start's calendar checks."""
    if not validated:
        from policy.data.validation import validate  # jsonschema: only for data that needs it

        plain = dict(data) if isinstance(data, Mapping) and not isinstance(data, dict) else data
        findings = validate(plain, "call", filename=source, line_of=lambda p: line)
        if findings:
            prefixed = tuple(_moved(f, _prefixed(path, f.path)) for f in findings)
            first = prefixed[0]
            raise SchemaError(
                first.message,
                location=first.location,
                path=first.path,
                hint=first.hint,
                findings=prefixed,
            )
    where = Location(source, line)
    text = str(data["start"])
    start_path = f"{path}.start" if path else "start"
    try:
        start = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise SchemaError(
            f"'{text}' is not an ISO-8601 date-time", location=where, path=start_path
        ) from None
    if start.tzinfo is not None and not 1900 <= start.year <= 2999:
        raise SchemaError(
            f"'{text}' is out of range (calls start between the years 1900 and 2999)",
            location=where,
            path=start_path,
        )
    if start.tzinfo is None:
        raise SchemaError(
            f"'{text}' has no UTC offset",
            location=where,
            path=start_path,
            hint="add one, e.g. 2026-11-02T09:00:00-05:00 or ...Z",
        ) from None
    duration = data.get("duration")
    return Call(
        id=str(data["id"]),
        direction=str(data["direction"]),
        to=str(data["to"]),
        start=start,
        context=str(data.get("context", "user")),
        user=data.get("user"),
        from_=data.get("from"),
        duration=None if duration is None else int(duration),
        where=where,
        path=path,
    )


def _moved(finding: Finding, path: str) -> Finding:
    return Finding(
        finding.severity,
        finding.message,
        location=finding.location,
        path=path,
        source_line=finding.source_line,
        hint=finding.hint,
        code=finding.code,
        related=finding.related,
    )


def _prefixed(path: str, field: str | None) -> str:
    if not path:
        return field or "(root)"
    if not field or field == "(root)":
        return path
    return f"{path}{field}" if field.startswith("[") else f"{path}.{field}"


def as_call(call: Call | Mapping[str, Any]) -> Call:
    """``call`` itself, or the Call its SPEC fields describe (what the library accepts)."""
    return call if isinstance(call, Call) else call_from_mapping(call)


def new_call(
    id: str,
    direction: str,
    to: str,
    start: datetime,
    context: str,
    user: str | None,
    from_: str | None,
    duration: int | None,
    where: Location | None,
    path: str,
) -> Call:
    """``Call(...)`` with every field given, for readers (one call per record): a plain
    function call, which spares ``Call.__new__``'s detour through ``type.__call__``."""
    month = month_of(start)
    return _new(
        Call, (id, direction, to, start, context, user, from_, duration, where, path, month)
    )


def calls_from_document(document: Document) -> Iterator[Call]:
    """The calls of a document already validated against the calls schema."""
    data = document.data
    if isinstance(data, dict):
        data = [data]
    for index, item in enumerate(data):
        yield call_from_mapping(
            item,
            source=document.filename,
            line=document.line_of((index,)),
            path=f"[{index}]",
            validated=True,
        )
