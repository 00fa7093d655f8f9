"""The load cache (policy.loadcache): what ``policy.load()`` reuses between processes.

A cached engine decides exactly as one built from scratch; a changed source, rate card
or sidecar is read afresh; a broken entry means the slow path with the same result;
``CCPOLICY_CACHE_DIR=off`` stores nothing; ``ccpolicy check`` still runs the checker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import BASE_TENANT, ROOT
from test_cases import _load as golden_cases

import policy
from policy import loadcache
from policy.language import check as checker
from policy.pipeline import policy_findings
from policy.support import cache as disk
from policy.support.resources import rules_dir

CALLS = [
    {"id": "c1", "direction": "outbound", "to": "+442071838750", "start": "2026-03-02T10:00:00Z",
     "user": "alice@contoso.com", "duration": 600},
    {"id": "c2", "direction": "outbound", "to": "+14255550100", "start": "2026-03-02T11:00:00Z",
     "user": "alice@contoso.com", "duration": 120},
    {"id": "c3", "direction": "outbound", "to": "911", "start": "2026-03-02T12:00:00Z",
     "user": "alice@contoso.com", "duration": 60},
]  # fmt: skip


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """A copy of the bundled rules (policy and rate card) to change."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("catalog.ccp", "scenarios.ccp", "rates.csv", "rates.yaml"):
        shutil.copy(rules_dir() / name, folder / name)
    return folder


def decide(engine: policy.Engine, calls: list[dict[str, Any]] = CALLS) -> list[dict[str, Any]]:
    return [d.to_dict() for d in engine.run(calls, policy.Tenant.from_dict(BASE_TENANT))]


def no_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make parsing or checking fail the test: the engine must come from the cache."""

    def refuse(*args: object) -> None:
        raise AssertionError("the checker ran")

    monkeypatch.setattr(checker, "check_modules", refuse)
    monkeypatch.setattr("policy.pricing.ratecard._csv_records", refuse)


def entries(folder: Path, kind: str) -> list[Path]:
    return sorted(folder.glob(f"*.{kind}"))


def test_second_load_comes_from_the_cache_and_decides_the_same(
    cache: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = decide(policy.load(rules))
    assert len(entries(cache, "policy")) == 1 and len(entries(cache, "card")) == 1
    with monkeypatch.context() as patch:
        no_checker(patch)
        again = policy.load(rules)
    assert decide(again) == first
    assert again.policy.catalog.modules == policy.load_policy(rules).catalog.modules


def test_golden_cases_decide_the_same_with_and_without_the_cache(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_cases import _engine, _engines

    def run_all() -> list[Any]:
        _engines.clear()
        out: list[Any] = []
        for param in golden_cases():
            given, case = param.values
            tenant = policy.Tenant.from_dict({**given["tenant"], **case.get("tenant", {})})
            try:
                out.append([d.to_dict() for d in _engine(given).run(case["calls"], tenant)])
            except policy.PolicyError as exc:
                out.append(("error", exc.finding.code, exc.render()))
        return out

    cold = run_all()  # fills the cache
    assert entries(cache, "policy")
    with monkeypatch.context() as patch:
        no_checker(patch)
        warm = run_all()
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", "off")
    off = run_all()
    _engines.clear()
    assert warm == cold
    assert off == cold


def test_a_changed_source_is_checked_again(cache: Path, rules: Path) -> None:
    old = decide(policy.load(rules))
    catalog = rules / "catalog.ccp"
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text + "\nzone bad = XX\n", encoding="utf-8")
    with pytest.raises(policy.CheckError) as changed:
        policy.load(rules)  # the cached entry is not for this text
    with pytest.raises(policy.CheckError) as uncached:
        policy.load_policy(rules)
    assert changed.value.render() == uncached.value.render()
    assert "unknown country code 'XX'" in changed.value.render()
    catalog.write_text(text, encoding="utf-8")
    assert decide(policy.load(rules)) == old


def test_a_change_that_still_checks_is_used(cache: Path, rules: Path) -> None:
    policy.load(rules)
    catalog = rules / "catalog.ccp"
    text = catalog.read_text(encoding="utf-8")
    sentence = policy.load(rules).policy.catalog.denials
    name, denial = next(iter(sentence.items()))
    catalog.write_text(text.replace(denial.sentence, "A brand new sentence."), encoding="utf-8")
    assert policy.load(rules).policy.denial_sentence(name) == "A brand new sentence."
    assert len(entries(cache, "policy")) == 2


def test_a_new_file_in_the_policy_directory_is_seen(cache: Path, rules: Path) -> None:
    policy.load(rules)
    (rules / "zz_extra.ccp").write_text("zone extra_zone = FR\n", encoding="utf-8")
    engine = policy.load(rules)
    assert "extra_zone" in engine.policy.catalog.zones
    assert engine.policy.sources[-1].endswith("zz_extra.ccp")


def test_a_changed_rate_card_or_sidecar_is_read_again(cache: Path, rules: Path) -> None:
    base = decide(policy.load(rules))
    assert base[0]["cost"]["currency"] == "USD"
    card = rules / "rates.csv"
    lines = card.read_text(encoding="utf-8").splitlines(keepends=True)
    doubled = [
        line.replace(",0.0240,", ",0.0480,") if line[:3] == "44," else line for line in lines
    ]
    card.write_text("".join(doubled), encoding="utf-8")
    changed = decide(policy.load(rules))
    assert Decimal(changed[0]["cost"]["amount"]) == 2 * Decimal(base[0]["cost"]["amount"])
    assert policy.load(rules).ratecard.tariffs == policy.RateCard.from_file(card).tariffs
    sidecar = rules / "rates.yaml"
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace("USD", "EUR"), "utf-8")
    assert policy.load(rules).ratecard.currency == "EUR"
    sidecar.unlink()
    assert policy.load(rules).ratecard.currency is None
    sidecar.write_text("currency: USD\nrounding: {method: nope}\n", encoding="utf-8")
    with pytest.raises(policy.SchemaError) as cached:
        policy.load(rules)
    with pytest.raises(policy.SchemaError) as direct:
        policy.RateCard.from_file(card)
    assert cached.value.render() == direct.value.render()


def test_broken_entries_fall_back_to_the_slow_path(
    cache: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored: list[tuple[str, Any]] = []
    real_store = disk.store

    def spy(kind: str, key: Any, value: object) -> None:
        stored.append((kind, key))
        real_store(kind, key, value)

    with monkeypatch.context() as patch:
        patch.setattr(loadcache, "store", spy)
        first = decide(policy.load(rules))
    broken = entries(cache, "policy") + entries(cache, "card")
    assert len(broken) == 2 and sorted(kind for kind, _ in stored) == ["card", "policy"]
    for number, entry in enumerate(broken):
        data = entry.read_bytes()
        entry.write_bytes(data[: len(data) // 2] if number else b"not a pickle at all")
    assert decide(policy.load(rules)) == first
    assert all(entry.read_bytes() != b"not a pickle at all" for entry in broken)  # rewritten
    for kind, key in stored:  # a sealed entry of another shape is ignored too
        real_store(kind, key, "something else")
    assert disk.lookup(*stored[0]) == "something else"
    assert decide(policy.load(rules)) == first


def test_switched_off_stores_nothing(
    tmp_path: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCPOLICY_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert decide(policy.load(rules)) == decide(policy.load(rules))
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "home").exists()


def test_errors_are_reported_as_without_the_cache(cache: Path, rules: Path) -> None:
    (rules / "scenarios.ccp").write_text("scenario broken\n", encoding="utf-8")
    for _ in range(2):  # nothing is stored for a policy with errors
        with pytest.raises(policy.PolicySyntaxError) as info:
            policy.load(rules)
        assert info.value.finding.location is not None
    assert entries(cache, "policy") == []
    with pytest.raises(policy.PolicyError) as missing:
        policy.load(rules / "nothing-here")
    with pytest.raises(policy.PolicyError) as direct:
        policy.load_policy(rules / "nothing-here")
    assert missing.value.render() == direct.value.render()


def test_the_checker_still_reports_warnings_of_a_cached_policy(cache: Path, rules: Path) -> None:
    (rules / "zz_extra.ccp").write_text("zone never_used = FR\n", encoding="utf-8")
    policy.load(rules)
    policy.load(rules)  # from the cache now
    _compiled, findings = policy_findings(rules)
    assert [f.severity for f in findings if "never_used" in f.message] == ["warning"]


def test_an_edited_checker_invalidates_entries(
    cache: Path, rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy.load(rules)
    monkeypatch.setattr(loadcache, "code_stamp", lambda files: "another build of ccpolicy")
    calls: list[object] = []
    real = checker.check_modules

    def counting(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(checker, "check_modules", counting)
    policy.load(rules)
    assert len(calls) == 1


def test_a_warm_load_imports_neither_yaml_nor_the_parser_nor_the_checker(tmp_path: Path) -> None:
    env = {**os.environ, "CCPOLICY_CACHE_DIR": str(tmp_path / "cache")}
    code = (
        "import json, sys, policy; policy.load(); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('yaml', 'jsonschema', 'referencing', 'lark', 'phonenumbers') or m in "
        "('policy.data.documents', 'policy.data.validation', 'policy.language.parser', "
        "'policy.language.astcache', "
        "'policy.language.check', 'dataclasses'))))"
    )
    run = [sys.executable, "-c", code]
    cold = json.loads(subprocess.check_output(run, env=env, cwd=ROOT, text=True))
    assert "yaml" in cold  # the first load read the sidecar and stored the results
    warm = json.loads(subprocess.check_output(run, env=env, cwd=ROOT, text=True))
    assert warm == []
