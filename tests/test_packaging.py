"""The wheel ships every subpackage and data folder (an editable install would hide a miss)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def test_every_subpackage_is_listed() -> None:
    listed = set(_config()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "policy").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"


def test_data_folders_are_mapped_into_the_package() -> None:
    mapping = _config()["tool"]["setuptools"]["package-dir"]  # type: ignore[index]
    assert mapping == {
        "policy": "policy",
        "policy.rules": "rules",
        "policy.schemas": "schemas",
        "policy.examples": "examples",
    }
    data = _config()["tool"]["setuptools"]["package-data"]  # type: ignore[index]
    assert "*.json" in data["policy.schemas"]
    assert {"*.ccp", "*.csv", "*.yaml"} <= set(data["policy.rules"])
