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


def test_lark_tables_come_from_the_sealed_cache(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from policy.language import parser as parser_module

    built: list[object] = []
    real = parser_module.Lark

    class Counting(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            built.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(parser_module, "Lark", Counting)
    try:
        parser_module._parser.cache_clear()
        first = parse("zone a = US  # kept\n", "a.ccp")
        assert len(built) == 1 and len(list(folders[0].glob("*.lark"))) == 1
        parser_module._parser.cache_clear()
        assert parse("zone a = US  # kept\n", "a.ccp") == first  # tables from the cache
        assert len(built) == 1
        [entry] = folders[0].glob("*.lark")
        key = next(k for k in _stored_keys(monkeypatch, "lark"))
        disk.store("lark", key, b"not lark tables")  # sealed, yet not tables: built again
        parser_module._parser.cache_clear()
        assert parse("zone a = US\n", "a.ccp").statements == first.statements
        assert len(built) == 2 and entry.exists()
    finally:
        parser_module._parser.cache_clear()


def _stored_keys(monkeypatch: pytest.MonkeyPatch, kind: str) -> list[Any]:
    """The keys ``kind`` entries are stored under, by building them once more."""
    from policy.language import parser as parser_module

    keys: list[Any] = []
    real = disk.lookup

    def spy(asked: str, key: Any) -> object:
        if asked == kind:
            keys.append(key)
        return real(asked, key)

    with monkeypatch.context() as patch:
        patch.setattr(disk, "lookup", spy)
        parser_module._parser.cache_clear()
        parser_module._parser()
    return keys


def test_a_sealed_entry_that_does_not_unpickle_is_a_miss(folders: tuple[Path, Path]) -> None:
    cache, _state = folders
    disk.store("test", ("k",), "value")  # makes the folder and the key
    secret = disk._secret(create=False)
    assert secret is not None
    digest = disk._key_digest("test", ("k",))
    payload = b"\x80\x04cpolicy.support.cache\nno_such_name\n."  # a name since removed
    entry = cache / disk._file_name("test", digest)
    entry.write_bytes(disk._MAGIC + disk._seal(secret, digest, payload) + payload)
    assert disk.lookup("test", ("k",)) is None


def test_a_value_that_cannot_be_stored_is_not_an_error(folders: tuple[Path, Path]) -> None:
    def local() -> None:
        pass

    disk.store("test", ("k",), local)  # pickle refuses a local function
    disk.store("test", ("k2",), lambda: None)
    assert disk.lookup("test", ("k",)) is None and disk.lookup("test", ("k2",)) is None
    assert [p.suffix for p in folders[0].iterdir()] == []  # no temporary file left behind


def test_two_processes_making_the_key_agree_on_one(
    folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cache, state = folders
    key = state / "ccpolicy" / "cache-key"
    theirs = os.urandom(32)
    real_link = os.link

    def lose_the_race(src: str, dst: Any) -> None:
        Path(dst).write_bytes(theirs)  # another process made it first
        Path(dst).chmod(0o600)
        real_link(src, dst)  # raises FileExistsError

    monkeypatch.setattr(disk.os, "link", lose_the_race)
    disk.store("test", ("k",), "value")
    assert key.read_bytes() == theirs and disk._secret(create=False) == theirs
    assert [p.name for p in key.parent.iterdir()] == ["cache-key"]  # the temporary removed
    assert disk.lookup("test", ("k",)) == "value"


def test_where_the_cache_and_the_key_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCPOLICY_CACHE_DIR")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert disk.cache_dir() == tmp_path / "xdg" / "ccpolicy"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert disk.cache_dir() == tmp_path / "home" / ".cache" / "ccpolicy"
    assert disk.key_file() == tmp_path / "home" / ".local" / "state" / "ccpolicy" / "cache-key"
    for off in ("off", "0", "no", ""):
        monkeypatch.setenv("CCPOLICY_CACHE_DIR", off)
        assert disk.cache_dir() is None


def test_what_a_key_is_made_of(tmp_path: Path) -> None:
    assert disk.library_stamp("no_such_module_here", "nothing") == "no_such_module_here:-"
    stamp = disk.library_stamp("yaml", "PyYAML")
    assert stamp.startswith("yaml=") and yaml_version() in stamp
    assert disk._site_listing(str(tmp_path / "missing")) == ()
    present = tmp_path / "present.py"
    present.write_text("x = 1\n", encoding="utf-8")
    missing = tmp_path / "missing.py"
    assert disk.code_digest((present, missing)) != disk.code_digest((present,))
    assert disk.python_stamp().startswith(sys.implementation.cache_tag)


def yaml_version() -> str:
    import yaml

    return str(yaml.__version__)
