"""The on-disk cache is not trusted (docs/security.md): what is in its folder can neither
run code nor change a decision; a folder someone else controls is not used; an edited
parser never meets an old entry."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import BASE_TENANT

import policy
from policy import loadcache
from policy.language import astcache
from policy.language.parser import parse
from policy.language.source import read_policy_sources
from policy.support import cache as disk
from policy.support.resources import rules_dir, schemas_dir

EMERGENCY = {
    "id": "e1",
    "direction": "outbound",
    "to": "911",
    "start": "2026-03-02T12:00:00Z",
    "user": "alice@contoso.com",
    "duration": 60,
}


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A cache folder and a state folder (where the key lives) of this test's own."""
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(disk, "_warned", [])
    return tmp_path / "cache", tmp_path / "state"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("catalog.ccp", "scenarios.ccp", "rates.csv", "rates.yaml"):
        shutil.copy(rules_dir() / name, folder / name)
    return folder


class Payload:
    """Unpickling this creates ``marker``: proof that a pickle from the folder ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def emergency(engine: policy.Engine) -> dict[str, Any]:
    return engine.evaluate(EMERGENCY, policy.Tenant.from_dict(BASE_TENANT)).to_dict()


def test_the_folder_and_the_key_are_private(folders: tuple[Path, Path]) -> None:
    cache, state = folders
    disk.store("test", ("k",), "value")
    key = state / "ccpolicy" / "cache-key"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    assert not key.is_relative_to(cache)
    [entry] = cache.iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert [p.name for p in cache.iterdir() if p.suffix == ".tmp"] == []  # renamed into place
    assert disk.lookup("test", ("k",)) == "value"
    assert disk.lookup("test", ("other",)) is None


def test_a_forged_pickle_is_never_executed(
    folders: tuple[Path, Path], rules: Path, tmp_path: Path
) -> None:
    cache, _state = folders
    expected = emergency(policy.load(rules))
    entries = sorted(p for p in cache.iterdir() if p.is_file())
    assert {p.suffix for p in entries} >= {".ast", ".policy", ".card"}
    marker = tmp_path / "pwned"
    evil = pickle.dumps(Payload(marker))
    pickle.loads(evil)  # the payload works: unpickling it makes the marker
    assert marker.exists()
    marker.unlink()
    for number, entry in enumerate(entries):
        if number % 2:  # a bare pickle, as the old cache read it
            entry.write_bytes(evil)
        else:  # one that imitates an entry's layout, sealed with a guessed key
            forged = disk._seal(b"\0" * 32, b"\0" * 32, evil)
            entry.write_bytes(disk._MAGIC + forged + evil)
    assert emergency(policy.load(rules)) == expected
    assert policy.load_policy(rules).catalog.modules == policy.load(rules).policy.catalog.modules
    assert not marker.exists()


def test_a_forged_entry_cannot_change_a_decision(
    folders: tuple[Path, Path], rules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert emergency(policy.load(rules))["permitted"] is True
    # Another user, who can write the folder, builds the catalogue of a policy that denies
    # emergency calls and files it under the name of the victim's policy, sealed with a
    # key of their own.
    sources = read_policy_sources(rules)
    evil_rules = tmp_path / "evil"
    shutil.copytree(rules, evil_rules)
    scenarios = evil_rules / "scenarios.ccp"
    text = scenarios.read_text(encoding="utf-8")
    scenarios.write_text(
        text.replace("to is emergency\n    then free", "to is emergency\n    deny unknown_user", 1),
        encoding="utf-8",
    )
    evil_catalog = policy.load_policy(evil_rules).catalog
    with monkeypatch.context() as attacker:
        attacker.setenv("XDG_STATE_HOME", str(tmp_path / "attacker"))
        attacker.setattr(disk, "_secrets", {})
        loadcache.remember_catalog(sources, evil_catalog)
        assert emergency(policy.load(rules))["permitted"] is False  # with the forger's key
    assert emergency(policy.load(rules))["permitted"] is True  # the victim's own key


def test_a_folder_of_another_user_is_refused(
    folders: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    cache, _state = folders
    disk.store("test", ("k",), "value")
    assert disk.lookup("test", ("k",)) == "value"
    if os.geteuid() == 0:
        os.chown(cache, 65534, -1)  # nobody
        owner = "owned by another user (uid 65534)"
    else:  # without root, the next best: a folder others can write to
        cache.chmod(0o777)
        owner = "writable by group or others"
    assert disk.lookup("test", ("k",)) is None  # a sealed entry, and still not read
    disk.store("test", ("k2",), "value")
    assert sorted(p.name for p in cache.iterdir()) == [next(cache.iterdir()).name]
    policy.load()  # the cache is off, the load is not
    err = capfd.readouterr().err
    assert err.count("warning") == 1, err  # once per process, however often it is asked
    assert f"not using the cache folder {cache}: it is {owner}; the cache is off" in err


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
def test_a_folder_others_can_write_is_refused(
    folders: tuple[Path, Path], mode: int, capfd: pytest.CaptureFixture[str]
) -> None:
    cache, _state = folders
    disk.store("test", ("k",), "value")
    cache.chmod(mode)
    assert disk.lookup("test", ("k",)) is None
    assert "writable by group or others; the cache is off" in capfd.readouterr().err
    cache.chmod(0o700)
    assert disk.lookup("test", ("k",)) == "value"


def test_a_key_others_can_read_is_refused(
    folders: tuple[Path, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _cache, state = folders
    disk.store("test", ("k",), "value")
    key = state / "ccpolicy" / "cache-key"
    key.chmod(0o644)
    disk._secrets.clear()
    assert disk.lookup("test", ("k",)) is None
    assert "others may read it" in capfd.readouterr().err
    key.chmod(0o600)
    assert disk.lookup("test", ("k",)) == "value"


def test_entries_of_another_key_or_kind_are_not_read(folders: tuple[Path, Path]) -> None:
    cache, _state = folders
    disk.store("ast", ("k",), "made for k")
    [entry] = cache.iterdir()
    other = disk._file_name("ast", disk._key_digest("ast", ("other",)))
    shutil.copy(entry, cache / other)  # a genuine entry, filed under another key's name
    assert disk.lookup("ast", ("other",)) is None
    kind = disk._file_name("card", disk._key_digest("card", ("k",)))
    shutil.copy(entry, cache / kind)
    assert disk.lookup("card", ("k",)) is None


def test_no_cache_without_a_key(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker))  # the key cannot be made
    disk.store("test", ("k",), "value")
    assert disk.lookup("test", ("k",)) is None
    assert policy.load() is not None


def test_an_edited_parser_invalidates_parses_and_policies(
    folders: tuple[Path, Path], rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (rules / "scenarios.ccp").read_text(encoding="utf-8")
    module = parse(text, "scenarios.ccp")
    astcache.remember(module, text)
    policy.load(rules)
    assert astcache.lookup("scenarios.ccp", text) == module
    sources = read_policy_sources(rules)
    assert loadcache.checked_catalog(sources) is not None
    parser_py = Path(parse.__code__.co_filename)
    real = Path.read_bytes

    def edited(path: Path) -> bytes:
        data = real(path)
        return data + b"\n# edited\n" if path == parser_py else data

    try:
        with monkeypatch.context() as patch:
            patch.setattr(Path, "read_bytes", edited)
            disk.code_stamp.cache_clear()
            disk.code_digest.cache_clear()
            assert astcache.lookup("scenarios.ccp", text) is None
            assert loadcache.checked_catalog(sources) is None
    finally:
        disk.code_stamp.cache_clear()
        disk.code_digest.cache_clear()
    assert astcache.lookup("scenarios.ccp", text) == module  # unedited: found again


def _copy_of_the_package(target: Path) -> Path:
    """The package with its rules and schemas, in a folder of its own to edit."""
    package = Path(policy.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(package, target / "policy", ignore=ignore)
    for folder in (rules_dir(), schemas_dir()):
        if not (target / "policy" / folder.name).is_dir():
            shutil.copytree(folder, target / folder.name, ignore=ignore)
    return target


SHOW = """
import hashlib, json, policy
from policy.pipeline import policy_findings
loaded = repr(policy.load().policy.catalog.modules)
checked = repr(policy_findings()[0].catalog.modules)
print(json.dumps([hashlib.sha256(x.encode()).hexdigest() for x in (loaded, checked)]))
"""


def test_a_warm_cache_cannot_mask_a_changed_parser(tmp_path: Path) -> None:
    """The mutation of issue 16: "has no calling plan" parsed as "has calling plan". With
    the cache warm from the unedited parser, both the load and the checker see the edit."""
    source = _copy_of_the_package(tmp_path / "src")

    def run(cache: str) -> list[str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "CCPOLICY_CACHE_DIR": cache,
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
        out = subprocess.check_output([sys.executable, "-c", SHOW], env=env, cwd=tmp_path)
        return list(json.loads(out))

    warm = str(tmp_path / "cache")
    original = run(warm)
    assert run(warm) == original  # now from the cache
    parser_py = source / "policy" / "language" / "parser.py"
    code = parser_py.read_text(encoding="utf-8")
    negated = (
        "return self._negate(items, ast.HasCallingPlan(str(items[0]), self._span(meta)), meta)"
    )
    assert negated in code
    parser_py.write_text(
        code.replace(negated, "return ast.HasCallingPlan(str(items[0]), self._span(meta))"),
        encoding="utf-8",
    )
    mutated = run("off")
    assert mutated[0] != original[0]  # the mutation changes what is parsed
    assert run(warm) == mutated  # and the warm cache does not hide it


def test_the_suite_never_uses_the_home_cache() -> None:
    home = Path(os.path.expanduser("~"))
    folder = disk.cache_dir()
    assert folder is not None and not folder.is_relative_to(home / ".cache")
    assert not disk.key_file().is_relative_to(home / ".local")
