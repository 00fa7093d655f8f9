"""Shared fixtures: the bundled engine (loaded once)."""

from __future__ import annotations

import pytest

import policy


@pytest.fixture(scope="session")
def engine() -> policy.Engine:
    return policy.load()
