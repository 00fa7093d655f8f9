"""Batch rating: decide a stream of calls in order on one State and write the results.

:func:`rate` is the engine room of ``ccpolicy rate``: calls stream in from
:func:`policy.rating.cdr.read_calls`, each is decided with :meth:`Engine.decide` against one
in-memory copy of the tenant's state, and written by a :mod:`policy.rating.writers` writer.
Memory stays constant in the number of rows, except for :class:`SeenIds` — the call ids
already decided (reference rule R15: a repeat returns the first decision and changes
nothing) — which costs 32–64 bytes per distinct id and keeps no row in memory.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import tempfile
from array import array
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress
from pathlib import Path
from typing import Any

from policy.data.call import Call
from policy.data.tenant import Tenant
from policy.engine.evaluate import Engine
from policy.language.source import display_name
from policy.rating.cdr import BadRow, read_calls
from policy.rating.usage_report import RowBuilder
from policy.rating.writers import Writer, open_writer
from policy.support.errors import EvaluationError

__all__ = ["RejectsWriter", "SeenIds", "Summary", "rate"]


class SeenIds:
    """Call id → a 63-bit value, in two flat arrays with open addressing (≤ half full).

    Keys are the ids' 64-bit hashes: lookups yield every value stored under the same
    hash, and the caller confirms the id (a collision is then harmless). Per distinct
    id: 16 bytes a slot at a load between 1/4 and 1/2, i.e. 32–64 bytes.
    """

    __slots__ = ("_keys", "_limit", "_mask", "_size", "_values")

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._keys = _zeros(capacity)
        self._values = _zeros(capacity)
        self._mask = capacity - 1
        self._limit = capacity // 2  # the most entries before the arrays grow
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def get(self, key: str) -> tuple[int, ...]:
        """Values stored under ``key``'s hash (usually none, or exactly ``key``'s)."""
        h = hash(key) or 1
        keys, mask = self._keys, self._mask
        i = h & mask
        k = keys[i]
        if not k:
            return ()
        found: tuple[int, ...] = ()
        while k:
            if k == h:
                found += (self._values[i],)
            i = (i + 1) & mask
            k = keys[i]
        return found

    def add(self, key: str, value: int) -> None:
        if self._size >= self._limit:
            self._grow()
        h = hash(key) or 1
        keys, mask = self._keys, self._mask
        i = h & mask
        while keys[i]:
            i = (i + 1) & mask
        keys[i] = h
        self._values[i] = value
        self._size += 1

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        capacity = 2 * len(old_keys)
        self._keys = keys = _zeros(capacity)
        self._values = values = _zeros(capacity)
        self._mask = mask = capacity - 1
        self._limit = capacity // 2
        for h, value in compress(zip(old_keys, old_values, strict=True), old_keys):
            i = h & mask  # (the used slots only: compress skips those with key 0)
            while keys[i]:
                i = (i + 1) & mask
            keys[i] = h
            values[i] = value


def _zeros(n: int) -> array[int]:
    return array("q", _ZERO) * n


_ZERO = (0,)


@dataclass
class Summary:
    """Counts of a run: ``read == permitted + refused + rejected``; ``rated`` is
    ``permitted + refused`` (repeats included, counted by their first decision)."""

    read: int = 0
    permitted: int = 0
    refused: int = 0
    rejected: int = 0
    duplicates: int = 0
    charge: Decimal = Decimal(0)
    currency: str = ""
    by_payer: dict[str, int] = field(default_factory=dict)

    @property
    def rated(self) -> int:
        return self.permitted + self.refused

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "rated": self.rated,
            "permitted": self.permitted,
            "refused": self.refused,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "charge": {"amount": str(self.charge), "currency": self.currency},
            "by_payer": dict(sorted(self.by_payer.items())),
        }

    def rows(self, tenant: str) -> list[tuple[str, Any]]:
        """Label/value pairs for a summary sheet."""
        out: list[tuple[str, Any]] = [
            ("Tenant", tenant),
            ("Rows read", self.read),
            ("Calls rated", self.rated),
            ("Permitted", self.permitted),
            ("Refused (denied)", self.refused),
            ("Rejected (bad rows)", self.rejected),
            ("Repeated call ids", self.duplicates),
            ("Total charge", self.charge),
            ("Currency", self.currency),
        ]
        out.extend((f"Calls paid by {payer}", n) for payer, n in sorted(self.by_payer.items()))
        return out

    def line(self) -> str:
        return (
            f"read {self.read:,} rows: rated {self.rated:,} ({self.permitted:,} permitted, "
            f"{self.refused:,} refused), rejected {self.rejected:,}, repeated ids "
            f"{self.duplicates:,}; charge {self.charge} {self.currency}"
        )


class RejectsWriter:
    """Bad rows as CSV — ``row, line, field, reason, record`` — written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        folder = path.parent if str(path.parent) else Path(".")
        fd, self.temp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
        self.handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.csv = csv.writer(self.handle)
        self.csv.writerow(("row", "line", "field", "reason", "record"))

    def write(self, bad: BadRow) -> None:
        self.csv.writerow((bad.row, bad.line, bad.field, bad.reason, bad.record))

    def finish(self) -> None:
        self.handle.close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        self.handle.close()
        if os.path.exists(self.temp):
            os.unlink(self.temp)


def rate(
    engine: Engine,
    tenant: Tenant,
    calls: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    rejects: str | os.PathLike[str] | None = None,
    tick: Callable[[int, float | None], None] | None = None,
) -> Summary:
    """Decide every call of ``calls`` in order and write ``out`` (format by extension).

    A malformed row raises a located :class:`~policy.support.errors.SchemaError` (nothing is
    written) unless ``rejects`` is given: then it goes there and the run goes on.
    ``tick(rows_read, fraction_of_file)`` is called every 1024 rows (progress). On any error or
    interruption neither ``out`` nor ``rejects`` is left behind.
    """
    with _few_collections():
        return _rate(engine, tenant, calls, out, rejects, tick)


@contextmanager
def _few_collections() -> Iterator[None]:
    """Fewer passes of the cyclic garbage collector while rating.

    A row makes a dozen short-lived tuples (call, decision, keys) and no reference cycles,
    so the collector's young-generation pass every 700 allocations is overhead (≈ 2–3%
    of a 200k-call run, measured) and its old-generation passes walk every cached number.
    The first threshold is raised for the run (cycles are still collected) and restored.
    """
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], _GC_YOUNG), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


_GC_YOUNG = 100_000  # allocations between young-generation collections while rating


def _rate(
    engine: Engine,
    tenant: Tenant,
    calls: str | os.PathLike[str],
    out: str | os.PathLike[str],
    rejects: str | os.PathLike[str] | None,
    tick: Callable[[int, float | None], None] | None,
) -> Summary:
    binding = engine.bind(tenant)
    state = binding.initial.copy()
    builder = RowBuilder(engine, tenant)
    source = display_name(Path(calls))
    summary = Summary(currency=tenant.currency)
    seen = SeenIds()
    stream = read_calls(calls)  # opens the file: a missing input fails before any output
    writer: Writer = open_writer(out, builder)
    bad_rows = RejectsWriter(Path(rejects)) if rejects is not None else None
    decide = engine.decide_observed
    write = writer.write
    repeat = writer.repeat
    seen_get, seen_add = seen.get, seen.add
    by_payer = summary.by_payer
    charge = Decimal(0)
    read = permitted_n = refused_n = duplicates = 0
    try:
        for item in stream:
            read += 1
            if tick is not None and not read & 1023:
                tick(read, stream.consumed / stream.size if stream.size else None)
            if isinstance(item, BadRow):
                _reject(item, source, bad_rows, summary)
                continue
            call = item
            call_id = call.id
            values = seen_get(call_id)
            if values:
                repeated = False
                for value in values:
                    if repeat(value >> 1, call_id):
                        repeated = True
                        if value & 1:
                            permitted_n += 1
                        else:
                            refused_n += 1
                        duplicates += 1
                        break
                if repeated:
                    continue
            try:
                decision, seen_facts = decide(call, tenant, state)
            except EvaluationError as exc:  # an impossible number: a malformed row
                _reject(_bad_number(call, exc), source, bad_rows, summary)
                continue
            locator = write(call, decision, seen_facts)
            if decision.permitted:
                seen_add(call_id, locator << 1 | 1)
                permitted_n += 1
                paid_by = decision.paid_by
                by_payer[paid_by] = by_payer.get(paid_by, 0) + 1
                cost = decision.cost
                if cost:
                    charge += cost
            else:
                seen_add(call_id, locator << 1)
                refused_n += 1
        summary.read = read
        summary.permitted = permitted_n
        summary.refused = refused_n
        summary.duplicates = duplicates
        summary.charge = charge if charge else builder.zero
        writer.finish(summary.rows(tenant.name))
        if bad_rows is not None:
            bad_rows.finish()
    except BaseException:
        writer.abort()
        if bad_rows is not None:
            bad_rows.abort()
        raise
    if tick is not None:
        tick(summary.read, 1.0)
    return summary


def _bad_number(call: Call, exc: EvaluationError) -> BadRow:
    path = exc.finding.path or "to"
    field_name = path.rsplit(".", 1)[-1]
    row = int(call.path[4:]) if call.path.startswith("row ") else 0
    line = call.where.line if call.where is not None else 0
    fields = call.to_dict()
    return BadRow(row, line, field_name, exc.finding.message, json.dumps(fields))


def _reject(bad: BadRow, source: str, rejects: RejectsWriter | None, summary: Summary) -> None:
    if rejects is None:
        raise bad.error(source)
    rejects.write(bad)
    summary.rejected += 1
