"""A missing real component skips a test on a developer's machine and fails it in CI."""

from __future__ import annotations

import json
from pathlib import Path

import components
import pytest
from components import is_required, requires_component


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("CCPOLICY_REQUIRE_POSTGRES", raising=False)
    monkeypatch.setattr(components, "ran", components.Counter())
    monkeypatch.setattr(components, "skipped", components.Counter())


def test_available_counts_as_ran(local: None) -> None:
    requires_component("postgres", True, "")
    assert components.ran["postgres"] == 1


def test_missing_skips_locally(local: None) -> None:
    with pytest.raises(pytest.skip.Exception, match="postgres not available: no answer"):
        requires_component("postgres", False, "no answer")
    assert components.skipped["postgres"] == 1


@pytest.mark.parametrize(
    ("variable", "value"),
    [("CI", "true"), ("CI", "1"), ("CCPOLICY_REQUIRE_POSTGRES", "1")],
)
def test_missing_fails_where_required(
    local: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert is_required("postgres")
    with pytest.raises(pytest.fail.Exception, match=r"postgres is required here .*: no answer"):
        requires_component("postgres", False, "no answer")
    assert components.skipped["postgres"] == 0


def test_other_components_have_their_own_switch(
    local: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCPOLICY_REQUIRE_POSTGRES", "1")
    assert not is_required("sipp")
    monkeypatch.setenv("CCPOLICY_REQUIRE_SIPP", "1")
    assert is_required("sipp")
    monkeypatch.setenv("CI", "false")
    assert not is_required("kamailio")


def test_the_report_counts_each_component(local: None, tmp_path: Path) -> None:
    requires_component("postgres", True, "")
    with pytest.raises(pytest.skip.Exception):
        requires_component("sipp", False, "not installed")
    components.write_report(tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report == {"postgres": {"ran": 1, "skipped": 0}, "sipp": {"ran": 0, "skipped": 1}}
