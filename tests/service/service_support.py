"""Helpers of the service tests (a module name of its own, so it never collides with
another folder's conftest): calls, tenants, tokens, a real server in a subprocess."""

from __future__ import annotations

import copy
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import BASE_TENANT, ROOT

#: make_client(...) → a started TestClient (the fixture in conftest.py)
Client = Callable[..., Any]

JSON = {"content-type": "application/json"}

CALL: dict[str, Any] = {
    "id": "c1",
    "direction": "outbound",
    "context": "user",
    "user": "alice@contoso.com",
    "to": "+442071838750",
    "start": "2026-11-02T09:00:00-05:00",
}

TOKENS = {
    "admin-token": ("ops", "*", ["admin"]),
    "switch-token": ("switch", ["contoso"], ["decide", "charge"]),
    "decide-token": ("reader", ["contoso"], ["decide"]),
    "other-token": ("fabrikam switch", ["fabrikam"], ["decide", "charge"]),
}


def write_tenant(folder: Path, name: str = "contoso", **changes: Any) -> Path:
    data = copy.deepcopy(BASE_TENANT)
    data["tenant"] = name
    data.update(changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def write_tokens(path: Path) -> Path:
    entries = [
        {
            "name": name,
            "sha256": hashlib.sha256(secret.encode()).hexdigest(),
            "tenants": tenants,
            "scopes": scopes,
        }
        for secret, (name, tenants, scopes) in TOKENS.items()
    ]
    path.write_text(yaml.safe_dump(entries), encoding="utf-8")
    return path


class Server:
    """``ccpolicy serve`` in a subprocess on 127.0.0.1, port 0."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log_path = cwd / f"serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "policy", "serve", "--port", "0", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on http://" not in line:
            self.stop()
            raise AssertionError(f"serve did not start: {line!r}\n{self.log_path.read_text()}")
        self.url = line.split("listening on ")[1].split()[0]
        self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"serve not ready: {self.log_path.read_text()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text()


def postgres_url() -> str:
    """A PostgreSQL database for the shared-ledger tests: skipped locally when none
    answers, a failure in CI (CI=true)."""
    url = os.environ.get("CCPOLICY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
    except Exception as exc:  # any failure: PostgreSQL is not there
        message = f"PostgreSQL at {url} does not answer: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url
