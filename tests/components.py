"""Real components a test needs (PostgreSQL; later Kamailio, SIPp, the HTTP service):
skipped where they are missing on a developer's machine, a failure where they must be.

A component is required when ``CI`` is true (``.ci/run`` exports ``CI=true``) or when
``CCPOLICY_REQUIRE_<NAME>=1`` (``CCPOLICY_REQUIRE_POSTGRES=1``): then a test that cannot
reach it fails with the reason instead of skipping, so a suite that did not test what it
claims cannot pass. Every call is counted; with ``CCPOLICY_COMPONENT_REPORT=FILE`` the
counts are written there as JSON at the end of the run (``.ci/run`` checks them).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

__all__ = ["is_required", "requires_component", "write_report"]

_TRUE = ("1", "true", "yes", "on")
ran: Counter[str] = Counter()
skipped: Counter[str] = Counter()


def _env_name(name: str) -> str:
    return "CCPOLICY_REQUIRE_" + "".join(c if c.isalnum() else "_" for c in name.upper())


def is_required(name: str) -> bool:
    """Must ``name`` be there: in CI, or when ``CCPOLICY_REQUIRE_<NAME>`` is set."""
    return (
        os.environ.get("CI", "").strip().lower() in _TRUE
        or os.environ.get(_env_name(name), "").strip().lower() in _TRUE
    )


def requires_component(name: str, available: bool, reason: str) -> None:
    """Call at the start of a test (or fixture) that needs component ``name``: returns
    when it is ``available``; otherwise skips the test with ``reason`` — or fails it,
    when the component is required (:func:`is_required`)."""
    if available:
        ran[name] += 1
        return
    if is_required(name):
        pytest.fail(
            f"{name} is required here (CI or {_env_name(name)}=1) but not available: {reason}",
            pytrace=False,
        )
    skipped[name] += 1
    pytest.skip(f"{name} not available: {reason}")


def write_report(path: str | os.PathLike[str]) -> None:
    """``{"postgres": {"ran": 19, "skipped": 0}, ...}`` for every component asked for."""
    names = sorted(set(ran) | set(skipped))
    report = {name: {"ran": ran[name], "skipped": skipped[name]} for name in names}
    Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
