"""Shared fixtures: a private cache for the whole run, the bundled engine (loaded once)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import policy
from policy.support import cache as disk


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test runs with a cache folder and sealing key of this run's own: a warm cache
    in the home folder can never hide a regression, and the suite never writes there.
    Subprocesses inherit the environment, so they are isolated too."""
    base = tmp_path_factory.mktemp("ccpolicy-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CCPOLICY_CACHE_DIR", str(base / "cache"))
        patch.setenv("XDG_CACHE_HOME", str(base / "xdg-cache"))
        patch.setenv("XDG_STATE_HOME", str(base / "state"))
        patch.setattr(disk, "_secrets", {})
        yield


@pytest.fixture(scope="session")
def engine(private_cache: None) -> policy.Engine:
    return policy.load()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write which real components the tests reached (``CCPOLICY_COMPONENT_REPORT``)."""
    import os

    from components import write_report

    target = os.environ.get("CCPOLICY_COMPONENT_REPORT")
    if target:
        write_report(target)
