"""Call: one PSTN call (or call attempt) as the engine sees it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from policy.support.errors import Location, SchemaError

if TYPE_CHECKING:
    from policy.data.documents import Document

__all__ = ["MAX_DURATION", "Call", "calls_from_document", "max_duration", "month_of", "new_call"]

# The longest call accepted, in seconds (reference rule R27): a longer ``duration`` is bad
# input, not a charge. ``CCPOLICY_MAX_DURATION`` (seconds) sets another limit.
MAX_DURATION = 86_400

_UTC = timezone.utc
_new = tuple.__new__
_MONTHS: dict[int, str] = {}  # year * 16 + month → "YYYY-MM"


def max_duration() -> int:
    """The longest call accepted: ``$CCPOLICY_MAX_DURATION`` if set, else 24 h."""
    text = os.environ.get("CCPOLICY_MAX_DURATION")
    if not text:
        return MAX_DURATION
    if not text.strip().isdigit() or int(text) <= 0:
        raise SchemaError(
            f"CCPOLICY_MAX_DURATION must be a positive number of seconds, not '{text}'",
            path="CCPOLICY_MAX_DURATION",
        )
    return int(text)


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
        if not self.path:
            return name
        # a CSV/JSON Lines record is "row N" (as its bad rows are named), a document's "[i]"
        return f"{self.path}: {name}" if self.path.startswith("row ") else f"{self.path}.{name}"

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
        """Build a Call from its fields; validates against the call schema unless told."""
        if not validated:
            from policy.data.validation import validate  # jsonschema: only for data that needs it

            findings = validate(dict(data), "call", filename=source, line_of=lambda p: line)
            if findings:
                first = findings[0]
                prefixed = f"{path}.{first.path}" if path and first.path else (first.path or path)
                raise SchemaError(
                    first.message, location=first.location, path=prefixed, hint=first.hint
                )
        where = Location(source, line)
        text = str(data["start"])
        try:
            start = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise SchemaError(
                f"'{text}' is not an ISO-8601 date-time",
                location=where,
                path=f"{path}.start" if path else "start",
            ) from None
        if start.tzinfo is not None and not 1900 <= start.year <= 2999:
            raise SchemaError(
                f"'{text}' is out of range (calls start between the years 1900 and 2999)",
                location=where,
                path=f"{path}.start" if path else "start",
            )
        if start.tzinfo is None:
            raise SchemaError(
                f"'{text}' has no UTC offset",
                location=where,
                path=f"{path}.start" if path else "start",
                hint="add one, e.g. 2026-11-02T09:00:00-05:00 or ...Z",
            ) from None
        duration = data.get("duration")
        if duration is not None and int(duration) > (limit := max_duration()):
            raise SchemaError(
                f"a call lasts at most {limit} seconds, not {duration}",
                location=where,
                path=f"{path}.duration" if path else "duration",
                hint="the limit is CCPOLICY_MAX_DURATION (seconds; default 86400, 24 h)",
            )
        return cls(
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
        yield Call.from_dict(
            item,
            source=document.filename,
            line=document.line_of((index,)),
            path=f"[{index}]",
            validated=True,
        )
