"""Where the bundled data files live, installed or in a source checkout.

In a wheel, ``schemas/``, ``rules/`` and ``examples/`` are shipped as the packages
``policy.schemas``, ``policy.rules`` and ``policy.examples`` (see
``[tool.setuptools.package-dir]`` in pyproject.toml), i.e. the folders ``policy/schemas/``,
``policy/rules/`` and ``policy/examples/``. In a source checkout (or an editable
install) they are the top-level folders ``<repo>/schemas/`` and ``<repo>/rules/``.
The package location wins when both exist.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["examples_dir", "rules_dir", "schemas_dir"]

_PACKAGE = Path(__file__).resolve().parent.parent  # policy/, from policy/support/


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    # Neither exists: name the package location so the error says where we looked.
    return _PACKAGE / name


def schemas_dir() -> Path:
    """The folder holding the JSON Schemas (``*.schema.json``)."""
    return _bundled("schemas")


def rules_dir() -> Path:
    """The folder holding the bundled default policy (``*.ccp``) and its sample data."""
    return _bundled("rules")


def examples_dir() -> Path:
    """The folder holding the example tenant and calls (the service's default tenant)."""
    return _bundled("examples")
