"""The PSTN usage report: one row per rated call, in the documented columns.

:class:`RowBuilder` turns a call and its decision into a row of typed values (``str``,
``int``, :class:`~decimal.Decimal`, ``datetime``, ``bool``, ``None``): the 20 columns of
the PSTN usage report (DOMAIN.md) followed by ccpolicy's own. Writers
(:mod:`policy.writers`) render the row as CSV text, JSON or typed Excel cells.

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

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from hashlib import blake2b
from typing import Any

from .call import Call
from .cdr import usage_call_type
from .decision import Decision
from .evaluate import Engine
from .numbers import NON_GEOGRAPHIC, BadNumber, NumberInfo, classify
from .tenant import Tenant

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


class RowBuilder:
    """Builds usage-report rows for one tenant under one engine (cheap per call)."""

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
        self._numbers: dict[tuple[str, str, str | None, str], tuple[Any, ...]] = {}

    def usage_id(self, call_id: str) -> str:
        """A stable UUID-shaped id: BLAKE2b of the tenant and the call id (cheaper than uuid5)."""
        h = blake2b(call_id.encode(), digest_size=16, key=self._key).hexdigest()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def row(self, call: Call, d: Decision) -> tuple[Any, ...]:
        """The report row of ``call`` decided as ``d``: typed values in :data:`HEADER` order."""
        user = self.users.get(call.user.lower()) if call.user else None
        region = user.location if user is not None else self.tenant.country
        key = (call.to, region, call.from_, call.direction)
        info = self._numbers.get(key)
        if info is None:
            info = self._number_info(call, region)
            if len(self._numbers) >= 16_384:  # bounded: the engine caches numbers too
                self._numbers.clear()
            self._numbers[key] = info
        number, origin, number_type, kind, country = info
        start = call.start.astimezone(timezone.utc)
        duration = call.duration
        end = None if duration is None else start + timedelta(seconds=duration)
        cost = d.cost
        fee = self.zero
        if d.paid_by == "credits" and cost and number is not None:
            fee = self._connect_fee(call, number, origin, region, cost)
        return (
            self.usage_id(call.id),
            call.id,
            None,
            user.location if user is not None else None,
            user.object_id if user is not None else None,
            call.user,
            user.display_name if user is not None else None,
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

    def _number_info(self, call: Call, region: str) -> tuple[Any, ...]:
        number = _classify(call.to, region)
        origin = _classify(call.from_, region) if call.from_ else None
        if number is None:
            return (None, origin, None, None, None)
        kind = self._kind(call, number, origin, region)
        return (number, origin, number.number_type, kind, number.country)

    def _kind(self, call: Call, number: NumberInfo, origin: NumberInfo | None, region: str) -> str:
        if number.country == NON_GEOGRAPHIC:
            return "International"
        if number.short_code:
            return "Domestic"
        if call.direction == "inbound":
            home = origin.country if origin is not None else number.country
            return "Domestic" if self.policy.is_domestic(number.country, home) else "International"
        return "Domestic" if self.policy.is_domestic(region, number.country) else "International"

    def _connect_fee(
        self,
        call: Call,
        number: NumberInfo,
        origin: NumberInfo | None,
        region: str,
        cost: Decimal,
    ) -> Decimal:
        if origin is not None:
            origin_country: str | None = origin.country
        else:
            origin_country = region if call.direction == "outbound" else None
        tariff = self.card.tariff_at(number.digits, number.number_type, origin_country, call.start)
        if tariff is None or not tariff.connect_fee:
            return self.zero
        fee = self.card.rounding.apply(tariff.connect_fee)
        return fee if fee < cost else cost

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


def _utc_text(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
