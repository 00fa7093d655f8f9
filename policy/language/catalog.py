"""Catalog: every declaration of a checked policy, by name — the symbol table that
:mod:`policy.language.check` builds and :mod:`policy.engine.compile` and the evaluator read.

Its own module so that a policy taken from the load cache (:mod:`policy.loadcache`)
needs the catalogue but not the checker.
"""

from __future__ import annotations

from functools import cached_property

from policy.language import ast
from policy.language.vocabulary import BUILTIN_DENIALS

__all__ = ["Catalog"]


class Catalog:
    """Every declaration of a policy, by name, in declaration order (filled by the checker)."""

    def __init__(self, modules: tuple[ast.Module, ...]) -> None:
        self.modules = modules
        self.zones: dict[str, ast.Zone] = {}
        self.areas: dict[str, ast.Area] = {}
        self.licences: dict[str, ast.Licence] = {}
        self.plans: dict[str, ast.Plan] = {}
        self.shared_pools: dict[str, ast.SharedPool] = {}
        self.roles: dict[str, ast.Role] = {}
        self.denials: dict[str, ast.Denial] = {}
        self.scenarios: list[ast.Scenario] = []
        self.notifies: list[ast.Notify] = []
        self.capability_statements: list[ast.Capability] = []

    def __repr__(self) -> str:
        files = ", ".join(m.file for m in self.modules)
        return f"Catalog({files}: {len(self.scenarios)} scenarios)"

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

    @cached_property
    def capabilities(self) -> dict[str, str]:
        """Capability target (a plan, a conferencing pool, or a word of
        ``CAPABILITY_TARGETS``) → the code the usage report writes for it."""
        out: dict[str, str] = {}
        for module in self.modules:
            for stmt in module.statements:
                if isinstance(stmt, ast.Capability):
                    for target in stmt.targets:
                        out.setdefault(target.value, stmt.code)
        return out

    @property
    def credits_title(self) -> str:
        """How sentences name the credits: the credits licence's title, else its name
        in words, else ``credits``."""
        name = self.credits_licence
        if name is None:
            return "credits"
        title = self.licences[name].title
        return title if title else name.replace("_", " ")

    def sentence_of(self, denial: str) -> str:
        """A denial's sentence: the policy's own, else the built-in one in the policy's
        words (its credits licence's title)."""
        if denial in self.denials:
            return self.denials[denial].sentence
        template = BUILTIN_DENIALS.get(denial)
        if template is None:
            return denial.replace("_", " ") + "."
        credits = self.credits_title
        plural = credits.endswith("s") and not credits.endswith("ss")
        return template.format(credits=credits, are="are" if plural else "is")
