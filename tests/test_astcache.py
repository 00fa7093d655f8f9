"""The parse cache: a cached module is the module the parser makes; bad entries re-parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy.language import astcache
from policy.language.parser import parse
from policy.pipeline import policy_findings
from policy.support.resources import rules_dir

TEXT = (rules_dir() / "scenarios.ccp").read_text(encoding="utf-8")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_round_trip_gives_the_parsed_module(cache: Path) -> None:
    module = parse(TEXT, "rules/scenarios.ccp")
    assert astcache.lookup("rules/scenarios.ccp", TEXT) is None
    astcache.remember(module, TEXT)
    assert astcache.lookup("rules/scenarios.ccp", TEXT) == module
    assert len(list(cache.glob("*.ast"))) == 1


def test_key_covers_name_and_text(cache: Path) -> None:
    astcache.remember(parse(TEXT, "a.ccp"), TEXT)
    assert astcache.lookup("b.ccp", TEXT) is None  # spans carry the file name
    assert astcache.lookup("a.ccp", TEXT + "\n# changed\n") is None


def test_a_broken_entry_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    for path in rules_dir().glob("*.ccp"):
        (policy_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    first, findings = policy_findings(policy_dir)
    assert first is not None and findings == []
    for entry in cache.glob("*.ast"):
        entry.write_bytes(b"not a pickle")
    again, findings = policy_findings(policy_dir)
    assert again is not None and findings == []
    assert [s.name for s in again.scenarios] == [s.name for s in first.scenarios]
    assert all(not e.read_bytes().startswith(b"not a pickle") for e in cache.glob("*.ast"))
    for path in sorted(policy_dir.glob("*.ccp")):  # stored again, and read back
        text = path.read_text(encoding="utf-8")
        assert astcache.lookup(str(path), text) == parse(text, str(path))


def test_switched_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", "off")
    assert astcache.cache_dir() is None
    astcache.remember(parse(TEXT, "x.ccp"), TEXT)
    assert astcache.lookup("x.ccp", TEXT) is None


def test_an_unwritable_folder_is_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", str(blocker / "sub"))
    astcache.remember(parse(TEXT, "x.ccp"), TEXT)  # no exception
    assert astcache.lookup("x.ccp", TEXT) is None
