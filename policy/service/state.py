"""What a server serves: one immutable snapshot of policy, rate card, tenants and their
ledgers, read and checked in full, and swapped atomically on reload.

A request takes the snapshot current when it starts and keeps it to the end, so a reload
never changes a request halfway; a snapshot that does not check clean is never swapped in
(the old one keeps serving) and its findings are kept for ``/readyz`` and the reply. The
ledger is the only state: two servers on one database answer alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from policy import loadcache
from policy.data.documents import load_document
from policy.data.tenant import Tenant
from policy.engine.evaluate import Engine
from policy.ledger import Ledger
from policy.pipeline import default_ratecard_path, policy_findings
from policy.pricing.ratecard import RateCard
from policy.support.errors import Finding, Location, PolicyError
from policy.support.resources import examples_dir, rules_dir

__all__ = ["Holder", "Settings", "Snapshot", "default_tenant_path", "read_snapshot", "tenant_files"]

_TENANT_SUFFIXES = (".yaml", ".yml", ".json")


def default_tenant_path() -> Path:
    """The example tenant shipped with the package."""
    return examples_dir() / "tenant.yaml"


@dataclass(frozen=True, slots=True)
class Settings:
    """What a snapshot is read from (the ``serve`` options)."""

    ledger_url: str
    rules: str | None = None
    rates: str | None = None
    tenants: tuple[str, ...] = ()  # files or directories; () = the example tenant
    quota: int = 300  # seconds per session grant
    grace: int | None = None  # settle an unreported session this long after; None: quota


@dataclass(frozen=True, slots=True)
class Snapshot:
    engine: Engine
    tenants: Mapping[str, Tenant]
    ledgers: Mapping[str, Ledger]
    warnings: tuple[Finding, ...]
    loaded_at: float  # time.time()
    generation: int

    def close(self) -> None:
        for ledger in self.ledgers.values():
            ledger.close()


def tenant_files(paths: Sequence[str]) -> list[Path]:
    """The tenant files at ``paths``: files as given; in a directory, every YAML/JSON file
    whose document is a mapping with ``tenant:`` (name order)."""
    found: list[Path] = []
    for raw in paths or (str(default_tenant_path()),):
        path = Path(raw)
        if not path.is_dir():
            found.append(path)
            continue
        for child in sorted(path.iterdir()):
            if child.suffix.lower() not in _TENANT_SUFFIXES or not child.is_file():
                continue
            try:
                data = load_document(child).data
            except PolicyError:
                data = None
            if isinstance(data, dict) and "tenant" in data:
                found.append(child)
    return found


def read_snapshot(settings: Settings, generation: int) -> tuple[Snapshot | None, list[Finding]]:
    """Read and check everything; a snapshot only when there is no error. Each tenant is
    added to the ledger (idempotent: a tenant already there keeps its balance)."""
    rules = (settings.rules,) if settings.rules else (str(rules_dir()),)
    compiled, findings = policy_findings(*rules)
    if compiled is None or any(f.is_error for f in findings):
        return None, findings
    try:
        card_path = settings.rates or default_ratecard_path(*rules)
        card = loadcache.ratecard(card_path) if card_path else RateCard.from_rows([])
    except PolicyError as exc:
        return None, [*findings, *exc.findings]
    engine = Engine(compiled, card)
    tenants: dict[str, Tenant] = {}
    files = tenant_files(settings.tenants)
    if not files:
        where = ", ".join(settings.tenants)
        return None, [Finding("error", f"no tenant file in {where}", code="no-tenant")]
    errors: list[Finding] = []
    for path in files:
        try:
            tenant = Tenant.from_file(path)
            engine.bind(tenant)  # licences, currency: what the policy says of the tenant
        except PolicyError as exc:
            errors.extend(exc.findings)
            continue
        if tenant.name in tenants:
            first = tenants[tenant.name].source
            errors.append(
                Finding(
                    "error",
                    f"tenant '{tenant.name}' is also defined in {first}",
                    location=Location(str(path), tenant.line_of(("tenant",))),
                    path="tenant",
                    code="duplicate-tenant",
                )
            )
            continue
        tenants[tenant.name] = tenant
    if errors:
        return None, [*findings, *errors]
    ledgers: dict[str, Ledger] = {}
    try:
        for name, tenant in tenants.items():
            ledger = Ledger(
                settings.ledger_url,
                engine=engine,
                tenant=tenant,
                quota=settings.quota,
                grace=settings.grace,
            )
            ledgers[name] = ledger
            ledger.init()
    except PolicyError as exc:
        for ledger in ledgers.values():
            ledger.close()
        return None, [*findings, *exc.findings]
    warnings = tuple(f for f in findings if not f.is_error)
    return Snapshot(engine, tenants, ledgers, warnings, time.time(), generation), list(warnings)


@dataclass
class Holder:
    """The current snapshot and the findings of the last load; reloads one at a time."""

    settings: Settings
    current: Snapshot | None = None
    findings: list[Finding] = field(default_factory=list)
    last_ok: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _retired: list[tuple[float, Snapshot]] = field(default_factory=list)
    _generation: int = 0

    def reload(self) -> tuple[bool, list[Finding]]:
        """Read everything again (blocking: run it in a thread); swap only if clean."""
        with self._lock:
            self._generation += 1
            snapshot, findings = read_snapshot(self.settings, self._generation)
            self.findings = findings
            self.last_ok = snapshot is not None
            if snapshot is not None:
                old, self.current = self.current, snapshot  # the swap: one assignment
                if old is not None:
                    self._retired.append((time.monotonic(), old))
            self._close_retired(grace=60.0)
            return snapshot is not None, findings

    def _close_retired(self, grace: float) -> None:
        """Close the ledgers of snapshots replaced more than ``grace`` seconds ago (a
        request still holding one has long finished)."""
        now = time.monotonic()
        keep = []
        for since, snapshot in self._retired:
            if now - since >= grace:
                snapshot.close()
            else:
                keep.append((since, snapshot))
        self._retired = keep

    def close(self) -> None:
        with self._lock:
            self._close_retired(grace=0.0)
            if self.current is not None:
                self.current.close()
