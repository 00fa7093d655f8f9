"""``ccpolicy serve`` run in this process (one worker, and the supervisor of two), stopped
by SIGTERM once ready; and the tenant files a snapshot reads."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_support import write_tenant

from policy.cli import main
from policy.service.state import Settings, read_snapshot, tenant_files


@pytest.fixture
def signals_kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command installs signal handlers and may set the metrics folder: undo both."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop_when_ready(port: int, seen: list[int]) -> threading.Thread:
    def watch() -> None:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    seen.append(httpx.get(url + "/healthz", timeout=2).status_code)
                    break
            except httpx.HTTPError:
                pass
            threading.Event().wait(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_runs_in_process_and_stops_on_sigterm(
    workers: str, tmp_path: Path, signals_kept: None, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    seen: list[int] = []
    watcher = _stop_when_ready(port, seen)
    code = main(
        [
            "serve",
            "--port",
            str(port),
            "--workers",
            workers,
            "--ledger",
            f"sqlite:///{tmp_path / 'l.db'}",
        ]
    )
    watcher.join(30)
    assert code == 0
    assert seen == [200]
    out = capsys.readouterr().out
    assert f"listening on http://127.0.0.1:{port} ({workers} worker" in out
    assert "tenants: contoso" in out


def test_a_port_in_use_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert main(["serve", "--port", "70000"]) == 2
    assert main(["serve", "--max-body", "10"]) == 2
    assert "--max-body must be at least" in capsys.readouterr().err


def test_tenant_directories_and_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "tenants"
    folder.mkdir()
    write_tenant(folder, "contoso")
    write_tenant(folder, "fabrikam")
    (folder / "calls.yaml").write_text("- {id: c1}\n", encoding="utf-8")  # not a tenant
    (folder / "notes.txt").write_text("hello\n", encoding="utf-8")
    (folder / "broken.yaml").write_text("tenant: [\n", encoding="utf-8")
    names = [p.name for p in tenant_files([str(folder)])]
    assert names == ["contoso.yaml", "fabrikam.yaml"]
    other = tmp_path / "again"
    other.mkdir()
    write_tenant(other, "contoso")
    settings = Settings(
        ledger_url=f"sqlite:///{tmp_path / 'l.db'}", tenants=(str(folder), str(other))
    )
    snapshot, findings = read_snapshot(settings, 1)
    assert snapshot is None
    assert any("also defined in" in f.message for f in findings)
    empty = tmp_path / "empty"
    empty.mkdir()
    snapshot, findings = read_snapshot(
        Settings(ledger_url="sqlite:///x.db", tenants=(str(empty),)), 1
    )
    assert snapshot is None and "no tenant file" in findings[0].message
    bad_rates = tmp_path / "rates.csv"
    bad_rates.write_text("not,a,rate,card\n", encoding="utf-8")
    snapshot, findings = read_snapshot(
        Settings(ledger_url="sqlite:///x.db", rates=str(bad_rates)), 1
    )
    assert snapshot is None and findings
