"""Reports over rated calls: the minute-pools report and usage totals.

Both stream :class:`~policy.rating.rated.Rated` records once. A call id seen before (a repeat
that ``rate`` re-emitted, reference rule R15) is counted once, remembered by its 64-bit
hash (:class:`~policy.rating.batch.SeenIds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from policy.data.tenant import Tenant
from policy.engine.evaluate import Engine
from policy.rating.batch import SeenIds
from policy.rating.rated import Rated

__all__ = ["PoolLine", "Totals", "UsageReport", "pools_report", "usage_report"]


@dataclass(frozen=True, slots=True)
class PoolLine:
    """One row of the minute-pools report."""

    key: str
    country: str
    description: str
    total: int
    used: int

    @property
    def available(self) -> int:
        return max(self.total - self.used, 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "pool": self.key,
            "country_or_region": self.country,
            "capability": self.description,
            "total_minutes": self.total,
            "minutes_used": self.used,
            "minutes_available": self.available,
        }


def _unique(records: Iterable[Rated]) -> Iterable[Rated]:
    seen = SeenIds()
    for record in records:
        if any(True for _ in seen.get(record.call)):
            continue
        seen.add(record.call, 1)
        yield record


def pools_report(
    engine: Engine, tenant: Tenant, records: Iterable[Rated], month: str | None = None
) -> tuple[str | None, list[PoolLine]]:
    """Pool sizes from the tenant, minutes used from the rated calls of ``month`` (default:
    the first call's month). The tenant's ``usage`` counts for the first call's month only
    (reference rule R4). Each call's minutes are rounded up; a pool never shows more used than
    its size (minutes beyond it were paid from credits or cut)."""
    binding = engine.bind(tenant)
    first_month: str | None = None
    drawn: dict[str, int] = {}
    for record in _unique(records):
        record_month = record.month
        if first_month is None:
            first_month = record_month
        if month is not None and record_month is not None and record_month != month:
            continue
        if record.permitted and record.pool and record.billable_seconds:
            minutes = -(-record.billable_seconds // 60)
            drawn[record.pool] = drawn.get(record.pool, 0) + minutes
    month = month or first_month
    initial = tenant.usage if month is None or month == first_month or first_month is None else {}
    catalog = engine.policy.catalog
    lines: list[PoolLine] = []
    for key, size in binding.pool_sizes.items():
        used = min(size, initial.get(key, 0) + drawn.get(key, 0))
        if size == 0 and used == 0:
            continue
        lines.append(_line(key, size, used, catalog, tenant))
    lines.sort(key=lambda p: (p.country, p.description))
    return month, lines


def _line(key: str, size: int, used: int, catalog: object, tenant: Tenant) -> PoolLine:
    parts = key.split(":")
    plans = getattr(catalog, "plans", {})
    shared = getattr(catalog, "shared_pools", {})
    if len(parts) == 3:
        plan, where, pool = parts
        decl = plans.get(plan)
        title = (decl.title if decl is not None and decl.title else plan) or plan
        user = tenant.user(where) if "@" in where else None
        country = user.usage_location if user is not None else where
        description = f"{title} — {pool} minutes" + (f" ({where})" if user is not None else "")
        return PoolLine(key, country, description, size, used)
    name = parts[-1]
    decl = shared.get(name)
    title = decl.title if decl is not None and decl.title else key
    return PoolLine(key, "All (tenant-wide)", str(title), size, used)


@dataclass
class Totals:
    calls: int = 0
    refused: int = 0
    seconds: int = 0
    charge: Decimal = Decimal(0)

    def add(self, record: Rated) -> None:
        self.calls += 1
        if not record.permitted:
            self.refused += 1
        self.seconds += record.billable_seconds or 0
        self.charge += record.charge

    def to_dict(self) -> dict[str, object]:
        return {
            "calls": self.calls,
            "refused": self.refused,
            "minutes": round(self.seconds / 60, 1),
            "charge": str(self.charge),
        }


@dataclass
class UsageReport:
    """Totals by user, destination country, scenario and payer; credits spent per day."""

    currency: str = ""
    total: Totals = field(default_factory=Totals)
    by: dict[str, dict[str, Totals]] = field(
        default_factory=lambda: {"user": {}, "country": {}, "scenario": {}, "payer": {}}
    )
    per_day: dict[str, Decimal] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "total": self.total.to_dict(),
            **{
                f"by_{name}": {k: t.to_dict() for k, t in sorted(table.items())}
                for name, table in self.by.items()
            },
            "credits_per_day": {day: str(v) for day, v in sorted(self.per_day.items())},
        }


def usage_report(records: Iterable[Rated], month: str | None = None) -> UsageReport:
    report = UsageReport()
    by = report.by
    for record in _unique(records):
        if month is not None and record.month is not None and record.month != month:
            continue
        report.currency = report.currency or record.currency
        report.total.add(record)
        keys = {
            "user": record.user or "(no user)",
            "country": record.country or "(unknown)",
            "scenario": record.scenario or "(unknown)",
            "payer": record.paid_by,
        }
        for name, key in keys.items():
            table = by[name]
            totals = table.get(key)
            if totals is None:
                totals = table[key] = Totals()
            totals.add(record)
        if record.charge and record.day is not None:
            report.per_day[record.day] = report.per_day.get(record.day, Decimal(0)) + record.charge
    return report
