"""Catalog: every declaration of a checked policy, by name — the symbol table that
:mod:`policy.check` builds and :mod:`policy.compile` and the evaluator read.

Its own module so that a policy taken from the load cache (:mod:`policy.loadcache`)
needs the catalogue but not the checker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from . import ast
from .vocabulary import BUILTIN_DENIALS

__all__ = ["Catalog"]


@dataclass
class Catalog:
    """Every declaration of a policy, by name, in declaration order."""

    modules: tuple[ast.Module, ...]
    zones: dict[str, ast.Zone] = field(default_factory=dict)
    areas: dict[str, ast.Area] = field(default_factory=dict)
    licences: dict[str, ast.Licence] = field(default_factory=dict)
    plans: dict[str, ast.Plan] = field(default_factory=dict)
    shared_pools: dict[str, ast.SharedPool] = field(default_factory=dict)
    roles: dict[str, ast.Role] = field(default_factory=dict)
    denials: dict[str, ast.Denial] = field(default_factory=dict)
    scenarios: list[ast.Scenario] = field(default_factory=list)
    notifies: list[ast.Notify] = field(default_factory=list)

    @cached_property
    def regions(self) -> dict[str, ast.Zone | ast.Area]:
        """Zones and areas by name (read after the catalogue is built)."""
        return {**self.zones, **self.areas}

    @cached_property
    def _region_sets(self) -> dict[str, frozenset[str]]:
        return {name: frozenset(c.value for c in d.countries) for name, d in self.regions.items()}

    @property
    def plan_pool_names(self) -> set[str]:
        return {p.name.value for plan in self.plans.values() for p in plan.pools}

    @property
    def credits_licence(self) -> str | None:
        for name, licence in self.licences.items():
            if licence.credits:
                return name
        return None

    def all_licences(self) -> list[str]:
        """Licence names a tenant may assign: plain licences and plans."""
        return [*self.licences, *self.plans]

    def region_countries(self, region: ast.Region) -> frozenset[str]:
        if region.name is None:
            return frozenset(c.value for c in region.countries)
        return self._region_sets.get(region.name.value, frozenset())

    def sentence_of(self, denial: str) -> str:
        if denial in self.denials:
            return self.denials[denial].sentence
        return BUILTIN_DENIALS.get(denial, denial.replace("_", " ") + ".")
