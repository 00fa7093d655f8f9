"""Rating: find the tariff in force for a call and price the call exactly.

:class:`TariffTable` compiles validated :class:`Tariff` objects (loaded from a CSV rate
card by :mod:`policy.pricing.ratecard`) into a prefix index and answers three questions per
call: does a tariff cover it (:meth:`~TariffTable.covers`), what does it cost
(:meth:`~TariffTable.price`), how long may it last on a budget
(:meth:`~TariffTable.max_duration`).

**Selection at a moment.** Candidate prefixes are probed from the longest down. A
tariff *applies* at a moment when its number type matches (empty = any; a
``fixed_line_or_mobile`` number also matches ``fixed_line`` tariffs), its origin matches
(empty = any) and its days/time window covers the moment. The longest prefix with at
least one applicable tariff wins — so when the longest prefix has tariffs for the number
but none covers the moment (say, only a weekend row on a Tuesday), the next shorter
prefix is used. Among that prefix's applicable tariffs the most specific wins: number
type given beats not, then origin given, then a days/time window given; ties go to the
tariff whose first row comes earlier in the file.

**Windows** are judged in the call's own wall clock: ``start``'s weekday and time of day,
advanced by the call's elapsed seconds at the offset in force at ``start`` (a DST change
during a call is ignored; sub-second parts of ``start`` are dropped). ``days`` and the
time window are tested on the same moment, so ``sat`` with ``22:00``–``06:00`` covers
Saturday 00:00–06:00 and 22:00–24:00. ``time_from`` > ``time_to`` wraps past midnight.

**Pricing.** A tariff's tiers start at call offsets (``from_second``, counted from the
call's start). The seconds of a tier are billed in whole ``increment``-second steps, the
last one rounded up, each step costing ``rate × increment / rate_unit``. A call that
crosses a moment where the selected tariff changes is cut there into pieces; each piece
is billed with the tariff in force at its start and its steps are rounded up on their
own (tier offsets still count from the call's start). If no tariff covers a later moment
of a call, the tariff in force continues. A tail ``[from_second, duration)`` is priced as
a piece of its own starting at ``from_second``. The connect fee of the tariff in force at
the call's start is added once (when asked); that tariff's ``max_cost`` caps the amount
(connect fee included). Arithmetic is exact (integers over a common denominator, no
floats, no intermediate rounding); only the final amount is rounded with the card's
:class:`Rounding`. A zero-second call costs nothing. For a tail, ``max_cost`` caps the
tail's own amount.

**Speed.** A number's route (its candidate tariffs, best first, cut after the first one
without a window) is built once per (longest prefix, number type, origin) and cached per
number too. A route of one windowless tariff is priced in a few integer operations;
:meth:`~TariffTable.max_duration` solves it tier by tier. Windowed routes walk the call
from window edge to window edge and skip whole repeating weeks.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, ROUND_UP, Context, Decimal
from typing import TYPE_CHECKING

from policy.language.vocabulary import NUMBER_TYPES

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = [
    "NUMBER_TYPES",
    "ROUNDING_METHODS",
    "Rounding",
    "Tariff",
    "TariffTable",
    "Tier",
]

ROUNDING_METHODS = ("up", "half_up", "down")
MAX_DECIMALS = 10
DAY = 86_400
WEEK = 7 * DAY

_MODES = {"up": ROUND_UP, "half_up": ROUND_HALF_UP, "down": ROUND_DOWN}
_CTX = Context(prec=200)
_EXPONENTS = tuple(Decimal(1).scaleb(-i) for i in range(MAX_DECIMALS + 1))
_FOREVER = 1 << 62  # "until" of a tariff's last tier
_CACHE_LIMIT = 100_000  # entries of the per-number route cache before it is cleared


@record(frozen=True, slots=True)
class Rounding:
    """How the final per-call amount is rounded: ``up``, ``half_up`` or ``down``."""

    method: str = "half_up"
    decimals: int = 2

    def __post_init__(self) -> None:
        if self.method not in _MODES:
            raise ValueError(f"rounding method {self.method!r} is not one of {ROUNDING_METHODS}")
        if (
            isinstance(self.decimals, bool)
            or not isinstance(self.decimals, int)
            or not 0 <= self.decimals <= MAX_DECIMALS
        ):
            raise ValueError(f"rounding decimals must be an integer 0..{MAX_DECIMALS}")

    def apply(self, amount: Decimal) -> Decimal:
        """``amount`` rounded to exactly ``decimals`` places, e.g. 0.725 → 0.73 (half_up)."""
        exponent = _EXPONENTS[self.decimals]
        return amount.quantize(exponent, rounding=_MODES[self.method], context=_CTX)


@record(frozen=True, slots=True)
class Tier:
    """One row of a tariff: from call second ``from_second`` on, ``rate`` per ``rate_unit``
    seconds, billed in ``increment``-second steps."""

    from_second: int
    rate: Decimal
    rate_unit: int
    increment: int
    line: int = 0


@record(frozen=True, slots=True)
class Tariff:
    """The rows of a rate card that share a key, as one priced offer.

    ``days`` holds weekday numbers (0 = Monday; empty = every day); ``time_from`` and
    ``time_to`` are seconds since midnight (``time_to`` may be 86400 = 24:00), both
    ``None`` when the tariff has no time window. ``order`` ranks ties (file order).
    """

    prefix: str
    number_type: str | None
    origin: str | None
    tiers: tuple[Tier, ...]
    connect_fee: Decimal = Decimal(0)
    max_cost: Decimal | None = None
    days: tuple[int, ...] = ()
    time_from: int | None = None
    time_to: int | None = None
    destination: str = ""
    line: int = 0
    order: int = 0

    def __post_init__(self) -> None:
        starts = [t.from_second for t in self.tiers]
        if not starts or starts[0] != 0 or starts != sorted(set(starts)):
            raise ValueError(f"tiers must start at second 0 and rise strictly, got {starts}")
        if any(t.increment < 1 or t.rate_unit < 1 or t.rate < 0 for t in self.tiers):
            raise ValueError("tiers need increment >= 1, rate_unit >= 1 and rate >= 0")
        if self.connect_fee < 0 or (self.max_cost is not None and self.max_cost < 0):
            raise ValueError("connect_fee and max_cost must not be negative")
        if (self.time_from is None) != (self.time_to is None):
            raise ValueError("time_from and time_to go together")

    @property
    def has_window(self) -> bool:
        """True when the tariff names days or a time of day (it is more specific)."""
        return bool(self.days) or self.time_from is not None

    @property
    def always(self) -> bool:
        """True when the window (if any) covers every moment of the week."""
        days_all = not self.days or len(set(self.days)) == 7
        time_all = self.time_from is None or (self.time_from == 0 and self.time_to == DAY)
        return days_all and time_all

    def matches(self, number_type: str | None, origin: str | None) -> bool:
        """Whether the tariff is for this number type and caller origin (windows aside)."""
        nt = self.number_type
        type_ok = (
            nt is None
            or nt == number_type
            or (nt == "fixed_line" and number_type == "fixed_line_or_mobile")
        )
        return type_ok and (self.origin is None or self.origin == origin)


class _Plan:
    """A tariff compiled for pricing: integer money over the table's denominator."""

    __slots__ = ("always", "cap", "connect", "days", "steps", "t_from", "t_to", "tariff")

    def __init__(self, tariff: Tariff, den: int) -> None:
        self.tariff = tariff
        tiers = sorted(tariff.tiers, key=lambda t: t.from_second)
        steps = []
        for i, tier in enumerate(tiers):
            until = tiers[i + 1].from_second if i + 1 < len(tiers) else _FOREVER
            num, rden = tier.rate.as_integer_ratio()
            step = num * tier.increment * (den // (rden * tier.rate_unit))
            steps.append((tier.from_second, until, tier.increment, step))
        self.steps: tuple[tuple[int, int, int, int], ...] = tuple(steps)
        self.connect = _scaled(tariff.connect_fee, den)
        self.cap = None if tariff.max_cost is None else _scaled(tariff.max_cost, den)
        self.always = tariff.always
        self.days = 0 if len(set(tariff.days)) in (0, 7) else sum(1 << d for d in set(tariff.days))
        self.t_from = tariff.time_from
        self.t_to = tariff.time_to
        if self.t_from == 0 and self.t_to == DAY:
            self.t_from = self.t_to = None

    def seg(self, lo: int, hi: int) -> int:
        """Cost of call seconds [lo, hi) in this tariff, steps counted from ``lo``."""
        total = 0
        for start, until, inc, step in self.steps:
            if hi <= start:
                break
            a = lo if lo > start else start
            b = hi if hi < until else until
            if b > a:
                total += (b - a + inc - 1) // inc * step
        return total

    def covers(self, weekday: int, second: int) -> bool:
        if self.days and not (self.days >> weekday) & 1:
            return False
        tf = self.t_from
        if tf is None:
            return True
        tt = self.t_to
        assert tt is not None
        if tf < tt:
            return tf <= second < tt
        return second >= tf or second < tt


def _scaled(amount: Decimal, den: int) -> int:
    num, d = amount.as_integer_ratio()
    return num * (den // d)


class _Route:
    """The candidate tariffs for one (prefix, number type, origin), best first."""

    __slots__ = ("bounds", "const", "last_start", "max_inc", "plans")

    def __init__(self, plans: tuple[_Plan, ...]) -> None:
        self.plans = plans
        self.const = plans[0] if len(plans) == 1 and plans[0].always else None
        cuts = {0}
        for p in plans:
            if not p.always and p.t_from is not None and p.t_to is not None:
                cuts.update(x for x in (p.t_from, p.t_to) if 0 < x < DAY)
        self.bounds = tuple(sorted(cuts))
        self.last_start = max((s[0] for p in plans for s in p.steps), default=0)
        self.max_inc = max((s[2] for p in plans for s in p.steps), default=1)

    def select(self, weekday: int, second: int) -> _Plan | None:
        for p in self.plans:
            if p.covers(weekday, second):
                return p
        return None


_NO_ROUTE = _Route(())


class _Entry:
    """One prefix: its tariffs best first, and the routes built from it so far (the last
    one used also in slots: one memory hop fewer on the hot path)."""

    __slots__ = ("last_origin", "last_route", "last_type", "plans", "routes")

    def __init__(self, plans: tuple[_Plan, ...]) -> None:
        self.plans = plans
        self.routes: dict[tuple[str | None, str | None], _Route] = {}
        self.last_type: str | None = None
        self.last_origin: str | None = None
        self.last_route: _Route | None = None


class TariffTable:
    """Compiled tariffs: prefix index, exact integer money, cached routes per number.

    The index (and the common denominator of the card's money) is built on the first
    lookup, so a process that loads a card but prices nothing does not pay for it."""

    _den: int  # these four: set by _build_index on the first lookup
    _by_prefix: dict[str, _Entry]
    _heads: dict[str, tuple[int, ...]]
    _short: tuple[int, ...]

    def __init__(self, tariffs: Sequence[Tariff], rounding: Rounding | None = None) -> None:
        self.rounding = rounding if rounding is not None else Rounding()
        self.tariffs: tuple[Tariff, ...] = tuple(tariffs)
        self._mul: int = 10**self.rounding.decimals
        self._up = self.rounding.method == "up"
        self._half_up = self.rounding.method == "half_up"
        self._dec = -self.rounding.decimals
        self._amounts: dict[int, Decimal] = {}  # rounded units -> Decimal (immutable, shared)
        self._cache: dict[tuple[str, str | None, str | None], _Route] = {}
        self._indexed = False

    def _build_index(self) -> None:
        den = 1
        for t in self.tariffs:
            for tier in t.tiers:
                den = math.lcm(den, tier.rate.as_integer_ratio()[1] * tier.rate_unit)
            den = math.lcm(den, t.connect_fee.as_integer_ratio()[1])
            if t.max_cost is not None:
                den = math.lcm(den, t.max_cost.as_integer_ratio()[1])
        self._den = den
        by_prefix: dict[str, list[_Plan]] = {}
        for t in sorted(self.tariffs, key=_specificity):
            by_prefix.setdefault(t.prefix, []).append(_Plan(t, den))
        self._by_prefix = {p: _Entry(tuple(plans)) for p, plans in by_prefix.items()}
        # Prefix lengths worth probing, by a number's first two digits (fewer probes). A
        # number whose first two digits start no prefix can only match "" or one digit.
        heads: dict[str, set[int]] = {}
        for p in by_prefix:
            if len(p) >= 2:
                heads.setdefault(p[:2], set()).add(len(p))
        short = [p for p in by_prefix if len(p) < 2]
        for head, lengths in heads.items():
            lengths.update(len(p) for p in short if head.startswith(p))
        self._heads = {h: tuple(sorted(ls, reverse=True)) for h, ls in heads.items()}
        self._short = tuple(sorted({len(p) for p in short}, reverse=True))
        self._indexed = True

    # -- lookup -----------------------------------------------------------------------

    def _route(self, digits: str, number_type: str | None, origin: str | None) -> _Route:
        key = (digits, number_type, origin)
        route = self._cache.get(key)
        return route if route is not None else self._lookup(key)

    def _lookup(self, key: tuple[str, str | None, str | None]) -> _Route:
        """Longest existing prefix by dict probes, then its route; caches the number."""
        digits, number_type, origin = key
        if not digits.isdigit() and digits:
            raise ValueError(f"digits must be the E.164 digits without '+', got {digits!r}")
        if not self._indexed:
            self._build_index()
        index = self._by_prefix
        for n in self._heads.get(digits[:2], self._short):
            entry = index.get(digits[:n])
            if entry is not None:
                route = entry.last_route
                if route is None or entry.last_type != number_type or entry.last_origin != origin:
                    route = entry.routes.get((number_type, origin))
                    if route is None:
                        route = self._build_route(digits[:n], number_type, origin)
                        entry.routes[(number_type, origin)] = route
                    entry.last_type, entry.last_origin = number_type, origin
                    entry.last_route = route
                break
        else:
            route = _NO_ROUTE
        cache = self._cache
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = route
        return route

    def _build_route(self, longest: str, number_type: str | None, origin: str | None) -> _Route:
        chosen: list[_Plan] = []
        for n in range(len(longest), -1, -1):
            entry = self._by_prefix.get(longest[:n])
            for plan in entry.plans if entry is not None else ():
                if plan.tariff.matches(number_type, origin):
                    chosen.append(plan)
                    if plan.always:
                        return _Route(tuple(chosen))
        return _Route(tuple(chosen))

    def tariff_at(
        self, digits: str, number_type: str, origin: str | None, start: datetime
    ) -> Tariff | None:
        """The tariff in force at ``start`` for this number, or None (for traces)."""
        key = (digits, number_type, origin)
        route = self._cache.get(key) or self._lookup(key)  # a _Route is always truthy
        if route.const is not None:
            return route.const.tariff
        plan = route.select(start.weekday(), _second_of_day(start))
        return None if plan is None else plan.tariff

    def covers(self, digits: str, number_type: str, origin: str | None, start: datetime) -> bool:
        """True if some tariff prices a call to ``digits`` starting at ``start``."""
        key = (digits, number_type, origin)
        route = self._cache.get(key) or self._lookup(key)
        if route.const is not None:
            return True
        return route.select(start.weekday(), _second_of_day(start)) is not None

    # -- pricing ----------------------------------------------------------------------

    def price(
        self,
        digits: str,
        number_type: str,
        origin: str | None,
        start: datetime,
        duration: int,
        *,
        from_second: int = 0,
        connect_fee: bool = True,
    ) -> Decimal | None:
        """The rounded cost of call seconds ``[from_second, duration)``; None if unpriced.

        Tier offsets count from the call's start (second 0). The connect fee of the tariff
        in force at ``start`` is included iff ``connect_fee``; its ``max_cost`` caps the
        result. ``duration == from_second`` costs zero (still checked for a tariff).
        """
        key = (digits, number_type, origin)
        route = self._cache.get(key)
        if route is None:
            route = self._lookup(key)
        plan = route.const
        if plan is not None and 0 <= from_second < duration:
            # Fast path: one tariff whatever the time (no window can change it).
            total = plan.connect if connect_fee else 0
            for first, until, inc, step in plan.steps:
                if duration <= first:
                    break
                lo = from_second if from_second > first else first
                hi = duration if duration < until else until
                if hi > lo:
                    total += (hi - lo + inc - 1) // inc * step
            cap = plan.cap
            if cap is not None and total > cap:
                total = cap
            return self._to_decimal(total)
        if from_second < 0 or duration < from_second:
            raise ValueError(f"need 0 <= from_second <= duration, got {from_second}, {duration}")
        if not route.plans:
            return None
        raw = self._raw(route, start, from_second, duration, connect_fee)
        if raw is None:
            return None
        total, cap = raw
        if cap is not None and total > cap:
            total = cap
        return self._to_decimal(total)

    def max_duration(
        self,
        digits: str,
        number_type: str,
        origin: str | None,
        start: datetime,
        budget: Decimal,
        *,
        from_second: int = 0,
        connect_fee: bool = True,
    ) -> int | None:
        """The largest t ≥ 0 with ``price(duration=from_second + t, ...) <= budget``.

        None when no finite t exceeds the budget (zero rates, or ``max_cost`` within the
        budget). 0 when even one second is too dear — and 0 when no tariff prices the
        call at all (check :meth:`covers` first). A tariff without windows is solved
        tier by tier; windowed routes use an exponential then a binary search.
        """
        if from_second < 0:
            raise ValueError(f"from_second must be >= 0, got {from_second}")
        route = self._route(digits, number_type, origin)
        a = from_second
        most = self._most(budget)  # the largest exact total that still rounds within budget
        if route.const is not None:
            return _afford(route.const, a, connect_fee, most)
        first = self._raw(route, start, a, a + 1, connect_fee) if route.plans else None
        if first is None:
            return 0
        cap = first[1]
        if cap is not None and cap <= most:
            return None

        def affordable(t: int) -> bool:
            raw = self._raw(route, start, a, a + t, connect_fee)
            assert raw is not None
            return raw[0] <= most

        if first[0] > most:
            return 0
        # Bounded? Once every tier has begun and a week has passed, the tariffs in force
        # repeat weekly: if the cost does not grow over two more weeks it never grows.
        d1 = max(a, route.last_start, WEEK) + 1
        raw1 = self._raw(route, start, a, d1, connect_fee)
        raw2 = self._raw(route, start, a, d1 + 2 * WEEK + 2 * route.max_inc, connect_fee)
        assert raw1 is not None and raw2 is not None
        if raw1[0] == raw2[0] and raw1[0] <= most:
            return None
        lo, hi = 1, 2
        while affordable(hi):
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if affordable(mid):
                lo = mid
            else:
                hi = mid
        return lo

    def _most(self, budget: Decimal) -> int:
        """The largest exact total (over ``_den``) whose rounded amount is <= ``budget``."""
        limit = int(budget.scaleb(self.rounding.decimals, _CTX).to_integral_value(ROUND_FLOOR))
        den, mul = self._den, self._mul
        if self._up:
            return (limit * den) // mul
        if self._half_up:
            return -(-((2 * limit + 1) * den) // (2 * mul)) - 1
        return -(-((limit + 1) * den) // mul) - 1

    # -- internals --------------------------------------------------------------------

    def _raw(
        self,
        route: _Route,
        start: datetime,
        a: int,
        b: int,
        connect_fee: bool,
        *,
        skip_weeks: bool = True,
    ) -> tuple[int, int | None] | None:
        """Uncapped exact cost of seconds [a, b) (integer over ``_den``) and the cap.

        Windowed routes walk the call from one window edge to the next. Once past
        ``settled`` (every tier begun, the tail begun, a week gone) the tariffs in force
        repeat weekly, so whole repeating weeks are skipped arithmetically: the walk is
        bounded by a few weeks of edges however long the call.
        """
        plan = route.const
        if plan is not None:
            total = plan.seg(a, b) if b > a else 0
            return (total + plan.connect if connect_fee and b > a else total), plan.cap
        weekday, second = start.weekday(), _second_of_day(start)
        cur = route.select(weekday, second)
        if cur is None:
            return None
        if b <= a:
            return 0, cur.cap
        total = cur.connect if connect_fee else 0
        cap = cur.cap
        bounds = route.bounds
        settled = max(a, route.last_start, WEEK) if skip_weeks else _FOREVER
        mark: tuple[int, int, _Plan, int, int] | None = None  # a settled piece start
        x = piece = 0  # call offset of the current moment / of the current piece's start
        while True:
            i = bisect_right(bounds, second)
            nxt = bounds[i] if i < len(bounds) else DAY
            x += nxt - second
            if x >= b:
                break
            second = nxt
            if second == DAY:
                second = 0
                weekday = (weekday + 1) % 7
            plan = route.select(weekday, second)
            if plan is not None and plan is not cur:
                if x > a:
                    total += cur.seg(max(a, piece), x)
                cur, piece = plan, x
                if x < settled:
                    continue
                if mark is None:
                    mark = (weekday, second, cur, x, total)
                    continue
                if mark[:3] != (weekday, second, cur):
                    continue
                period, gain = x - mark[3], total - mark[4]  # a whole number of weeks
                skip = (b - x) // period - 1
                if skip > 0:
                    x += skip * period
                    total += skip * gain
                    piece = x
                mark = None
            elif x - max(piece, settled) >= WEEK:
                break  # a settled week without a change: this tariff stays for good
        total += cur.seg(max(a, piece), b)
        return total, cap

    def _to_decimal(self, total: int) -> Decimal:
        q, r = divmod(total * self._mul, self._den)
        if r and (self._up or (self._half_up and 2 * r >= self._den)):
            q += 1
        amount = self._amounts.get(q)
        if amount is None:
            if len(self._amounts) >= _CACHE_LIMIT:
                self._amounts.clear()
            amount = self._amounts[q] = Decimal(q).scaleb(self._dec)
        return amount


def _afford(plan: _Plan, a: int, connect_fee: bool, most: int) -> int | None:
    """Seconds after ``a`` that cost at most ``most`` on one fixed tariff (None: forever)."""
    if plan.cap is not None and plan.cap <= most:
        return None
    left = most - (plan.connect if connect_fee else 0)
    if left < 0:
        return 0
    for first, until, inc, step in plan.steps:
        if until <= a:
            continue
        lo = a if a > first else first
        steps = (until - lo + inc - 1) // inc
        if step == 0 and until == _FOREVER:
            return None
        if step * steps <= left and until != _FOREVER:
            left -= step * steps
            continue
        whole = left // step if step else steps
        return max(0, lo + whole * inc - a)
    raise AssertionError("a tariff's last tier lasts forever")


def _specificity(t: Tariff) -> tuple[int, int, int, int]:
    return (
        t.number_type is None,
        t.origin is None,
        not t.has_window,
        t.order,
    )


def _second_of_day(moment: datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second
