"""Facts: what a scenario may test about one call situation, and the shape of a test.

Compiled conditions (:mod:`policy.engine.compile`) are :data:`Test` closures over
:class:`Facts`; the scenario index (:mod:`policy.engine.index`) selects candidates from
the same facts. Both import them from here.
"""

from __future__ import annotations

from collections.abc import Callable

from policy.data.numbers import NumberInfo

__all__ = ["Facts", "Test"]


class Facts:
    """What a scenario may test about one call (derived once per distinct situation)."""

    __slots__ = (
        "balance_positive",
        "context",
        "credits_set_up",
        "dest_kind",
        "direction",
        "licences",
        "number",
        "origin_country",
        "plan",
        "pools_left",
        "service_number",
        "shares_code",
    )

    def __init__(
        self,
        *,
        direction: str,
        context: str,
        number: NumberInfo,
        dest_kind: str,
        origin_country: str | None,
        shares_code: bool,
        licences: frozenset[str],
        plan: str | None,
        service_number: bool = False,
        credits_set_up: bool = True,
        balance_positive: bool = True,
        pools_left: frozenset[str] = frozenset(),
    ) -> None:
        self.direction = direction
        self.context = context
        self.number = number
        self.dest_kind = dest_kind
        self.origin_country = origin_country
        self.shares_code = shares_code
        self.licences = licences
        self.plan = plan
        self.service_number = service_number
        self.credits_set_up = credits_set_up
        self.balance_positive = balance_positive
        self.pools_left = pools_left


Test = Callable[[Facts], bool]
