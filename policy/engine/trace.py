"""Trace: the rules consulted for one situation, written out only when somebody reads it.

A decision's trace lists every scenario in policy order up to the one that decided, each
with whether it matched and, if not, the first part that failed — then the deciding
scenario's guards up to the one that denied. Routing finds the decider through the index
(:mod:`policy.engine.index`) without trying the others, so the entries are built here on first
access, from the facts, and kept. Batch rating never reads a trace and never pays for it.

:class:`Trace` is an immutable sequence of :class:`~policy.engine.decision.TraceEntry` that
compares equal to (and hashes, pickles and prints as) the tuple of its entries.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from policy.engine.decision import TraceEntry

if TYPE_CHECKING:
    from policy.engine.compile import CompiledScenario
    from policy.engine.facts import Facts

__all__ = ["Trace", "consulted"]


def consulted(scenarios: Sequence[CompiledScenario], facts: Facts) -> tuple[TraceEntry, ...]:
    """The entries of a scan of ``scenarios`` in order for ``facts``: each scenario tried
    until one matches, then that scenario's guards until one denies."""
    trace: list[TraceEntry] = []
    for scenario in scenarios:
        span = scenario.span
        if not scenario.test(facts):
            note = scenario.first_failure(facts)
            trace.append(TraceEntry(scenario.name, span.file, span.line, False, note))
            continue
        trace.append(TraceEntry(scenario.name, span.file, span.line, True, None))
        for guard in scenario.guards:
            denies = guard.denies(facts)
            rule = f"{scenario.name}: {guard.label}"
            trace.append(TraceEntry(rule, guard.span.file, guard.span.line, denies))
            if denies:
                break
        break
    return tuple(trace)


class Trace(Sequence[TraceEntry]):
    """The trace of routing ``facts`` through ``scenarios``, built on first access."""

    __slots__ = ("_entries", "_facts", "_scenarios")

    def __init__(self, scenarios: Sequence[CompiledScenario], facts: Facts) -> None:
        self._scenarios = scenarios
        self._facts = facts
        self._entries: tuple[TraceEntry, ...] | None = None

    @property
    def entries(self) -> tuple[TraceEntry, ...]:
        entries = self._entries
        if entries is None:
            entries = self._entries = consulted(self._scenarios, self._facts)
        return entries

    @overload
    def __getitem__(self, index: int) -> TraceEntry: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[TraceEntry, ...]: ...
    def __getitem__(self, index: int | slice) -> TraceEntry | tuple[TraceEntry, ...]:
        return self.entries[index]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self.entries)

    def __contains__(self, value: object) -> bool:
        return value in self.entries

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Trace):
            return other is self or self.entries == other.entries
        if isinstance(other, tuple):
            return self.entries == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.entries)

    def __add__(self, other: tuple[TraceEntry, ...]) -> tuple[TraceEntry, ...]:
        return self.entries + tuple(other)

    def __radd__(self, other: tuple[TraceEntry, ...]) -> tuple[TraceEntry, ...]:
        return tuple(other) + self.entries

    def __repr__(self) -> str:
        return repr(self.entries)

    def __reduce__(self) -> tuple[Any, ...]:
        return tuple, (self.entries,)  # pickled and copied as the plain tuple
