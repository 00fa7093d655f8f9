"""A route: what the rules say about one call situation, before money and state.

The engine memoises routes per situation (:mod:`policy.engine.evaluate`); settlement
(:mod:`policy.engine.settlement`) turns a route into a decision for one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from policy.engine.decision import TraceEntry

if TYPE_CHECKING:  # checked as the dataclass it behaves like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["ENGINE", "Route"]

ENGINE = "(engine)"  # the scenario name of the engine's own denials (unknown_user)


@record(frozen=True, slots=True)
class Route:
    """What the rules say about one situation, before money and state."""

    kind: str  # free | included | pool | credits | deny
    scenario: str
    sentence: str
    trace: Sequence[TraceEntry]  # a Trace (built when read), or () for the engine's own
    denial: str | None = None
    paid_by: str = "none"
    pool: str | None = None  # pool name (resolved per user)
    payer: str | None = None  # credits payer: user | organizer | tenant
    payer_licensed: bool = True
    reason: str = ""  # a free call's reason: the sentence and a full stop, filled in

    def __post_init__(self) -> None:
        if not self.reason:
            object.__setattr__(self, "reason", self.sentence + ".")
