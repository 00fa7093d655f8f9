"""The wheel ships every subpackage and data file (an editable install would hide a miss):
built from the source tree, opened, and compared with the files it must carry."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Where each source folder lands inside the wheel ([tool.setuptools.package-dir]).
DATA = {"rules": "policy/rules", "schemas": "policy/schemas", "examples": "policy/examples"}
JUNK = {"__pycache__", ".pytest_cache", ".mypy_cache"}


def _source_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not JUNK & set(p.parts) and p.suffix not in {".pyc", ".pyo"}
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The names in a wheel built from a copy of the source tree (the tree stays clean)."""
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("no source tree beside the tests")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns(*JUNK, "*.pyc", "*.egg-info", "build")
    for name in ("policy", *DATA):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "out")]
    if importlib.util.find_spec("wheel") and importlib.util.find_spec("setuptools"):
        command.append("--no-build-isolation")  # the test extra installs both: no download
    done = subprocess.run(
        [*command, str(source)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = (work / "out").glob("ccpolicy-*.whl")
    with zipfile.ZipFile(built) as archive:
        return set(archive.namelist())


def test_every_subpackage_is_in_the_wheel(wheel: set[str]) -> None:
    packages = {init.parent for init in (ROOT / "policy").rglob("__init__.py")}
    assert len(packages) > 10
    missing = {
        f"{p.relative_to(ROOT).as_posix()}/__init__.py"
        for p in packages
        if f"{p.relative_to(ROOT).as_posix()}/__init__.py" not in wheel
    }
    assert missing == set(), "add these to [tool.setuptools] packages"


def test_every_module_and_package_data_file_is_in_the_wheel(wheel: set[str]) -> None:
    expected = {p.relative_to(ROOT).as_posix() for p in _source_files(ROOT / "policy")}
    assert {"policy/py.typed", "policy/language/grammar.lark"} <= expected
    assert expected - wheel == set()


@pytest.mark.parametrize("folder", sorted(DATA))
def test_every_rule_and_schema_file_is_in_the_wheel(folder: str, wheel: set[str]) -> None:
    files = _source_files(ROOT / folder)
    assert files, f"{folder}/ is empty"
    expected = {f"{DATA[folder]}/{p.relative_to(ROOT / folder).as_posix()}" for p in files}
    assert expected - wheel == set(), "add these to [tool.setuptools.package-data]"


def test_the_wheel_ships_nothing_from_outside_the_package(wheel: set[str]) -> None:
    outside = {
        name
        for name in wheel
        if not name.startswith(("policy/", "ccpolicy-")) or "__pycache__" in name
    }
    assert outside == set()
