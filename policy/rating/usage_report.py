"""The PSTN usage report: one row per rated call, in the documented columns.

:class:`RowBuilder` turns a call and its decision into a row of typed values (``str``,
``int``, :class:`~decimal.Decimal`, ``datetime``, ``bool``, ``None``): the 20 columns of
the PSTN usage report (Microsoft's documented columns) followed by ccpolicy's own. Writers
(:mod:`policy.rating.writers`) render the row as CSV text, JSON or typed Excel cells.

How the report's columns are filled (also in ``docs/rating.md``):

- ``UsageId``: a stable UUID-shaped BLAKE2b hash of the tenant and the call id, so
  re-rating the same calls gives the same ids. ``Conference ID`` is empty (calls carry
  no conference).
- ``User Location``, ``AAD ObjectId``, ``User Display Name``: from the tenant's user.
- ``Caller ID`` / ``Destination Number``: the call's ``from`` / ``to``.
- ``Call Type``: from direction and context (``user_out``, ``user_in``, ``conf_out``,
  ``conf_in``, ``ucap_out``, ``ucap_in``).
- ``Number Type``: the libphonenumber type of the number dialled (snake_case).
- ``Domestic/International``: relative to the caller's usage location (outbound) or the
  calling number's country (inbound), by the policy's domestic areas.
- ``Destination Dialed``: the ISO 3166 country of the number dialled (``001`` for
  non-geographic numbers).
- ``Start Time`` / ``End Time``: UTC; the end is the start plus the call's duration.
  ``Duration Seconds`` is the call's duration as given (empty for authorizations).
- ``Connection Fee``: the rate card's connect fee inside ``Charge`` (calls paid from
  credits from their first second); ``Charge``: the decision's cost (credits part).
- ``Capability``: see :data:`PLAN_CAPABILITIES` and :meth:`RowBuilder.capability`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from hashlib import blake2b
from typing import Any

from policy.data.call import Call
from policy.data.numbers import NON_GEOGRAPHIC, BadNumber, NumberInfo, classify
from policy.data.tenant import Tenant
from policy.engine.decision import Decision
from policy.engine.evaluate import Engine, Observation, origin_country_of
from policy.rating.cdr import usage_call_type

__all__ = [
    "CCPOLICY_COLUMNS",
    "COLUMNS",
    "HEADER",
    "PLAN_CAPABILITIES",
    "RowBuilder",
]

#: The PSTN usage report's columns, in the documented order.
COLUMNS: tuple[str, ...] = (
    "UsageId",
    "Call ID",
    "Conference ID",
    "User Location",
    "AAD ObjectId",
    "UPN",
    "User Display Name",
    "Caller ID",
    "Call Type",
    "Number Type",
    "Domestic/International",
    "Destination Dialed",
    "Destination Number",
    "Start Time",
    "End Time",
    "Duration Seconds",
    "Connection Fee",
    "Charge",
    "Currency",
    "Capability",
)
#: ccpolicy's own columns, after the report's.
CCPOLICY_COLUMNS: tuple[str, ...] = (
    "permitted",
    "paid_by",
    "pool",
    "denial",
    "balance_after",
    "scenario",
    "billable_seconds",
)
HEADER: tuple[str, ...] = COLUMNS + CCPOLICY_COLUMNS

#: Column positions by kind (writers format these; all others are text or None).
DATETIME_COLUMNS = (HEADER.index("Start Time"), HEADER.index("End Time"))
INT_COLUMNS = (HEADER.index("Duration Seconds"), HEADER.index("billable_seconds"))
MONEY_COLUMNS = (
    HEADER.index("Connection Fee"),
    HEADER.index("Charge"),
    HEADER.index("balance_after"),
)
BOOL_COLUMNS = (HEADER.index("permitted"),)

#: Calling plan (licence name in the bundled rules) → the report's Capability code.
PLAN_CAPABILITIES: dict[str, str] = {
    "domestic_calling_plan": "MCOPSTN1",
    "domestic_international_calling_plan": "MCOPSTN2",
    "domestic_calling_plan_120": "MCOPSTN5",
    "domestic_calling_plan_240": "MCOPSTN6",
    "pay_as_you_go_calling_plan": "MCOPSTNPP",
}
CREDITS = "MCOPSTNPP"
CONFERENCING = "MCOMEETADD"
CONFERENCING_ADD_ON = "MCOMEETADD_DIALOUT_US"
VOICE_APPS = "MCOEV"
FREE = "FREECALL"


class _UserInfo:
    __slots__ = ("display_name", "location", "object_id", "plan")

    def __init__(
        self, location: str, object_id: str | None, display_name: str | None, plan: str | None
    ) -> None:
        self.location = location
        self.object_id = object_id
        self.display_name = display_name
        self.plan = plan


#: A call's ``user`` text → (user, region, User Location, AAD ObjectId, display name,
#: those four columns and UPN as CSV text).
_UserRow = tuple[_UserInfo | None, str, str | None, str | None, str | None, str]
#: (to, region, from, direction) → (number, origin, Number Type, Domestic/International,
#: Destination Dialed, Caller ID as CSV text, the four columns from Number Type to
#: Destination Number as CSV text).
_NumberRow = tuple[
    NumberInfo | None, NumberInfo | None, str | None, str | None, str | None, str, str
]

#: A decision's (permitted, paid_by, pool, denial, scenario, currency).
_Words = tuple[bool, str, str | None, str | None, str, str]
#: A rounded connect fee and its CSV text.
_Fee = tuple[Decimal, str]

_UTC = timezone.utc
_QUOTE = re.compile(r'[,"\r\n]').search  # what makes the csv module quote a field
_CACHE_LIMIT = 16_384  # entries per row-fragment cache before it is cleared (bounded)
#: context → (outbound, inbound) Call Type; anything else is a voice app (ucap_*).
_CALL_TYPES = {"user": ("user_out", "user_in"), "meeting": ("conf_out", "conf_in")}
_VOICE_APP_TYPES = ("ucap_out", "ucap_in")
#: "HH:MM:" for every minute of a day, "SSZ" for every second of a minute.
_HOUR_MINUTE = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECOND_Z = tuple(f"{s:02d}Z" for s in range(60))
#: The leading :class:`Decision` fields :meth:`RowBuilder.csv_row` unpacks by position.
_DECISION_HEAD = (
    "call",
    "permitted",
    "scenario",
    "paid_by",
    "reason",
    "currency",
    "pool",
    "denial",
    "billable_seconds",
    "cost",
    "max_duration",
    "authorization",
    "balance_after",
)
assert Decision._fields[: len(_DECISION_HEAD)] == _DECISION_HEAD
#: The leading :class:`Call` and :class:`NumberInfo` fields unpacked by position.
_CALL_HEAD = ("id", "direction", "to", "start", "context", "user", "from_", "duration")
assert Call._fields[: len(_CALL_HEAD)] == _CALL_HEAD
_NUMBER_FIELDS = (
    "text",
    "digits",
    "country",
    "calling_code",
    "number_type",
    "emergency",
    "short_code",
    "valid",
)
assert NumberInfo._fields == _NUMBER_FIELDS


class RowBuilder:
    """Builds usage-report rows for one tenant under one engine (cheap per call).

    Per-user and per-number row fragments, date prefixes and durations are cached in
    bounded dictionaries (cleared when full): memory does not grow with the rows."""

    def __init__(self, engine: Engine, tenant: Tenant) -> None:
        binding = engine.bind(tenant)
        self.engine = engine
        self.tenant = tenant
        self.policy = engine.policy
        self.card = engine.ratecard
        self.currency = tenant.currency
        self.zero = Decimal(0).scaleb(-self.card.rounding.decimals)
        self.users: dict[str, _UserInfo] = {}
        for upn, user in tenant.users.items():
            bound = binding.users[upn]
            self.users[upn] = _UserInfo(
                user.usage_location, user.object_id, user.display_name, bound.plan
            )
        self._key = tenant.name.encode()[:64]
        self._hash = blake2b(digest_size=16, key=self._key)  # copied per id: no rekeying
        self._numbers: dict[tuple[str, str, str | None, str], _NumberRow] = {}
        self._user_rows: dict[str | None, _UserRow] = {}
        self._days: dict[int, str] = {}  # proleptic ordinal → "YYYY-MM-DDT"
        self._spans: dict[int, timedelta] = {}  # duration → timedelta
        self._fees: dict[Decimal, _Fee] = {}  # connect fee → rounded, and its text
        self._zero_text = str(self.zero)
        #: (Number Type, country, short code, direction, region, calling number's country)
        #: → the columns Number Type to Destination Dialed as CSV text, with a comma after.
        self._heads: dict[tuple[str, str, bool, str, str, str | None], str] = {}
        self._words: dict[_Words, tuple[str, str, str]] = {}  # see _word_texts

    def usage_id(self, call_id: str) -> str:
        """A stable UUID-shaped id: BLAKE2b of the tenant and the call id (cheaper than uuid5)."""
        hasher = self._hash.copy()
        hasher.update(call_id.encode())
        h = hasher.hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _user_row(self, upn: str | None) -> _UserRow:
        user = self.users.get(upn.lower()) if upn else None
        if user is None:
            entry: _UserRow = (None, self.tenant.country, None, None, None, f",,{_csv(upn)},")
        else:
            location, object_id, name = user.location, user.object_id, user.display_name
            text = f"{_csv(location)},{_csv(object_id)},{_csv(upn)},{_csv(name)}"
            entry = (user, location, location, object_id, name, text)
        rows = self._user_rows
        if len(rows) >= _CACHE_LIMIT:
            rows.clear()
        rows[upn] = entry
        return entry

    def _number_row(self, call: Call, region: str) -> _NumberRow:
        info = self._number_info(call, region)
        numbers = self._numbers
        if len(numbers) >= _CACHE_LIMIT:  # bounded: the engine caches numbers too
            numbers.clear()
        numbers[(call.to, region, call.from_, call.direction)] = info
        return info

    def _span(self, seconds: int) -> timedelta:
        span = self._spans.get(seconds)
        if span is None:
            span = timedelta(seconds=seconds)
            if len(self._spans) >= _CACHE_LIMIT:
                self._spans.clear()
            self._spans[seconds] = span
        return span

    def _time_text(self, utc: datetime) -> str:
        """``_utc_text(utc)`` for a UTC time, with the date part cached by day."""
        if utc.microsecond:
            return _utc_text(utc)
        day = utc.toordinal()
        prefix = self._days.get(day)
        if prefix is None:
            prefix = utc.date().isoformat() + "T"
            if len(self._days) >= _CACHE_LIMIT:
                self._days.clear()
            self._days[day] = prefix
        return prefix + _HOUR_MINUTE[utc.hour * 60 + utc.minute] + _SECOND_Z[utc.second]

    def row(self, call: Call, d: Decision) -> tuple[Any, ...]:
        """The report row of ``call`` decided as ``d``: typed values in :data:`HEADER` order."""
        upn = call.user
        entry = self._user_rows.get(upn)
        if entry is None:
            entry = self._user_row(upn)
        user, region, location, object_id, display_name, _ = entry
        info = self._numbers.get((call.to, region, call.from_, call.direction))
        if info is None:
            info = self._number_row(call, region)
        number, origin, number_type, kind, country, _, _ = info
        start = call.start.astimezone(_UTC)
        duration = call.duration
        end = None if duration is None else start + self._span(duration)
        cost = d.cost
        fee = self.zero
        if d.paid_by == "credits" and cost and number is not None:
            found = self._fee(number, origin_country_of(call.direction, origin, region), call.start)
            if found is not None:
                fee = found[0] if found[0] < cost else cost
        return (
            self.usage_id(call.id),
            call.id,
            None,
            location,
            object_id,
            upn,
            display_name,
            call.from_,
            usage_call_type(call.direction, call.context),
            number_type,
            kind,
            country,
            call.to,
            start,
            end,
            duration,
            fee,
            cost if cost is not None else self.zero,
            d.currency,
            self.capability(call, d, user),
            d.permitted,
            d.paid_by,
            d.pool,
            d.denial,
            d.balance_after,
            d.scenario,
            d.billable_seconds,
        )

    def csv_line(self, call: Call, d: Decision, seen: Observation | None = None) -> str:
        """The row as one CSV line (CRLF-terminated), exactly as the csv module writes
        ``format_csv_cells(self.row(call, d))`` — built from cached per-user and
        per-number fragments, with the date part of the times cached by day. ``seen``
        (from :meth:`Engine.decide_observed`) spares classifying the numbers again."""
        (
            _call_id,
            permitted,
            scenario,
            paid_by,
            _reason,
            currency,
            pool,
            denial,
            billable,
            cost,
            _max_duration,
            _authorization,
            balance_after,
        ) = d[:13]
        call_id, direction, to, given_start, context, upn, from_, duration = call[:8]
        entry = self._user_rows.get(upn) or self._user_row(upn)
        user, region, _, _, _, user_text = entry
        if seen is None:
            info = self._numbers.get((to, region, from_, direction)) or self._number_row(
                call, region
            )
            number, origin, _, _, _, from_text, number_text = info
        else:
            number, origin = seen[1], seen[2]
            from_text = "" if from_ is None else _csv(from_)
            number_text = self._number_text(to, direction, region, number, origin)
        start = given_start
        if start.tzinfo is not _UTC:
            start = start.astimezone(_UTC)
        prefix = self._days.get(start.toordinal()) if not start.microsecond else None
        if prefix is None:
            start_text = self._time_text(start)
            end_text = "" if duration is None else self._end_text(start, duration)
        else:
            minute = start.hour * 60 + start.minute
            start_text = prefix + _HOUR_MINUTE[minute] + _SECOND_Z[start.second]
            if duration is None:
                end_text = ""
            else:
                end = minute * 60 + start.second + duration  # seconds into the start's day
                if end < 86_400:
                    end_text = prefix + _HOUR_MINUTE[end // 60] + _SECOND_Z[end % 60]
                else:
                    end_text = self._end_text(start, duration)
        cost_text = self._zero_text if cost is None else str(cost)
        fee_text = self._zero_text
        if paid_by == "credits":
            capability: str | None = CREDITS
            if cost and number is not None:
                found = self._fee(number, origin_country_of(direction, origin, region), given_start)
                if found is not None:
                    fee_text = found[1] if found[0] < cost else cost_text
        else:
            capability = self.capability(call, d, user)
        words = (permitted, paid_by, pool, denial, scenario, currency)
        texts = self._words.get(words) or self._word_texts(words)
        tail, scenario_text, currency_text = texts
        call_type = _CALL_TYPES.get(context, _VOICE_APP_TYPES)[direction != "outbound"]
        hasher = self._hash.copy()
        hasher.update(call_id.encode())
        h = hasher.hexdigest()
        return (
            f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]},"
            f"{call_id if _QUOTE(call_id) is None else _quoted(call_id)},,{user_text},"
            f"{from_text},{call_type},"
            f"{number_text},{start_text},{end_text},{'' if duration is None else duration},"
            f"{fee_text},{cost_text},{currency_text},{capability or ''},"
            f"{tail},{'' if balance_after is None else balance_after!s},{scenario_text},"
            f"{'' if billable is None else billable}\r\n"
        )

    def _end_text(self, start: datetime, duration: int) -> str:
        span = self._spans.get(duration)
        return self._time_text(start + (span or self._span(duration)))

    def _word_texts(self, words: _Words) -> tuple[str, str, str]:
        """The CSV texts of a decision's words: ``permitted`` to ``denial`` (one text),
        ``scenario`` and ``currency`` — cached (a run sees few distinct ones)."""
        permitted, paid_by, pool, denial, scenario, currency = words
        tail = f"{'true' if permitted else 'false'},{_csv(paid_by)},{_csv(pool)},{_csv(denial)}"
        texts = (tail, _csv(scenario), _csv(currency))
        if len(self._words) >= _CACHE_LIMIT:
            self._words.clear()
        self._words[words] = texts
        return texts

    def _number_info(self, call: Call, region: str) -> _NumberRow:
        to, from_ = call.to, call.from_
        number = _classify(to, region)
        origin = _classify(from_, region) if from_ else None
        return self._number_fragments(call, region, number, origin)

    def _number_fragments(
        self, call: Call, region: str, number: NumberInfo | None, origin: NumberInfo | None
    ) -> _NumberRow:
        to, from_, direction = call.to, call.from_, call.direction
        from_text = "" if from_ is None else _csv(from_)
        text = self._number_text(to, direction, region, number, origin)
        if number is None:
            return (None, origin, None, None, None, from_text, text)
        kind = self._kind(direction, number, origin, region)
        return (number, origin, number.number_type, kind, number.country, from_text, text)

    def _number_text(
        self,
        to: str,
        direction: str,
        region: str,
        number: NumberInfo | None,
        origin: NumberInfo | None,
    ) -> str:
        """The four columns Number Type to Destination Number as CSV text; the first
        three (which depend on the number's class, not its digits) cached."""
        if number is None:
            return ",,," + _csv(to)
        _, _, country, _, number_type, _, short_code, _ = number
        key = (
            number_type,
            country,
            short_code,
            direction,
            region,
            None if origin is None else origin[2],
        )
        head = self._heads.get(key)
        if head is None:
            kind = self._kind(direction, number, origin, region)
            head = f"{_csv(number_type)},{_csv(kind)},{_csv(country)},"
            if len(self._heads) >= _CACHE_LIMIT:
                self._heads.clear()
            self._heads[key] = head
        return head + (to if _QUOTE(to) is None else _quoted(to))

    def _kind(
        self, direction: str, number: NumberInfo, origin: NumberInfo | None, region: str
    ) -> str:
        if number.country == NON_GEOGRAPHIC:
            return "International"
        if number.short_code:
            return "Domestic"
        if direction == "inbound":
            home = origin.country if origin is not None else number.country
            return "Domestic" if self.policy.is_domestic(number.country, home) else "International"
        return "Domestic" if self.policy.is_domestic(region, number.country) else "International"

    def _fee(self, number: NumberInfo, origin: str | None, start: datetime) -> _Fee | None:
        """The rate card's connect fee for a call to ``number`` at ``start``, rounded, and
        its CSV text — None if there is none (the caller caps it at the call's cost)."""
        tariff = self.card.tariff_at(number.digits, number.number_type, origin, start)
        if tariff is None:
            return None
        connect = tariff.connect_fee
        if not connect:
            return None
        fee = self._fees.get(connect)
        if fee is None:
            rounded = self.card.rounding.apply(connect)
            fee = (rounded, str(rounded))
            if len(self._fees) >= _CACHE_LIMIT:
                self._fees.clear()
            self._fees[connect] = fee
        return fee

    def capability(self, call: Call, d: Decision, user: _UserInfo | None) -> str | None:
        """The licence the call used: credits ``MCOPSTNPP``; a plan's pool its plan's code
        (``MCOPSTN1/2/5/6``); conferencing ``MCOMEETADD`` (pooled) or
        ``MCOMEETADD_DIALOUT_US`` (the add-on); free outbound calls (emergency) ``FREECALL``;
        free inbound calls the user's plan code, ``MCOMEETADD`` for meetings, ``MCOEV`` for
        voice apps or users without a plan. A refused call used nothing: empty."""
        paid_by = d.paid_by
        if paid_by == "credits":
            return CREDITS
        if paid_by == "plan":
            plan = d.pool.split(":", 1)[0] if d.pool else (user.plan if user else None)
            return PLAN_CAPABILITIES.get(plan or "", CREDITS)
        if paid_by == "conferencing":
            return CONFERENCING if d.pool else CONFERENCING_ADD_ON
        if paid_by == "free":
            if call.direction == "outbound":
                return FREE
            if call.context == "meeting":
                return CONFERENCING
            if call.context == "user" and user is not None and user.plan in PLAN_CAPABILITIES:
                return PLAN_CAPABILITIES[user.plan]
            return VOICE_APPS
        return None


def _classify(text: str, region: str) -> NumberInfo | None:
    try:
        return classify(text, region)
    except BadNumber:
        return None


def format_csv_cells(row: tuple[Any, ...]) -> list[Any]:
    """The row as CSV cells: UTC times with ``Z``, money as decimal strings, booleans as
    ``true``/``false``; ``None`` stays ``None`` (an empty cell)."""
    cells = list(row)
    for i in DATETIME_COLUMNS:
        value = cells[i]
        if value is not None:
            cells[i] = _utc_text(value)
    for i in MONEY_COLUMNS:
        value = cells[i]
        if value is not None:
            cells[i] = str(value)
    cells[BOOL_COLUMNS[0]] = "true" if cells[BOOL_COLUMNS[0]] else "false"
    return cells


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _csv(value: str | None) -> str:
    """A text cell as the csv module writes it (QUOTE_MINIMAL, ``"`` doubled)."""
    if value is None:
        return ""
    return value if _QUOTE(value) is None else _quoted(value)


def _utc_text(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
