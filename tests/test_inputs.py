"""Gaps the suite once left open: ``python -m policy``, the progress bar on a terminal,
policy files that cannot be read, a calls file that is a JSON array."""

from __future__ import annotations

import io
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import EXAMPLES

from policy import InputError
from policy.cli import main
from policy.language.source import MAX_SOURCE_BYTES, read_text_file
from policy.rating import progress
from policy.rating.progress import Progress, wants_progress

TENANT = EXAMPLES / "tenant.yaml"
CALLS = EXAMPLES / "calls.yaml"


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# ---- python -m policy ---------------------------------------------------------------------


def test_python_dash_m_policy_is_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["policy", "check", "bundled"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("policy", run_name="__main__")
    assert done.value.code == 0
    out, err = capsys.readouterr()
    assert "0 errors" in out + err
    monkeypatch.setattr(sys, "argv", ["policy", "no-such-command"])
    with pytest.raises(SystemExit) as usage:
        runpy.run_module("policy", run_name="__main__")
    assert usage.value.code == 2
    assert "no-such-command" in capsys.readouterr().err


# ---- the progress bar ---------------------------------------------------------------------


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert wants_progress(Terminal())
    assert not wants_progress(io.StringIO())
    monkeypatch.setenv("TERM", "dumb")
    assert not wants_progress(Terminal())
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("CI", "true")
    assert not wants_progress(Terminal())


def test_progress_draws_a_bar_and_clears_it(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(progress.time, "monotonic", clock)
    screen = Terminal()
    bar = Progress(screen, "rating")
    clock.now += 2.0
    bar.tick(5000, 0.5)
    assert screen.getvalue() == (
        "\rrating [" + "█" * 12 + " " * 12 + "]  50% 5,000 rows · 2,500 rows/s · 2.0 s\033[K"
    )
    clock.now += 0.05  # redrawn at most ten times a second
    bar.tick(6000, 0.6)
    assert screen.getvalue().count("\r") == 1
    clock.now += 0.5
    bar.tick(9000, 7.0)  # a fraction past the end is drawn full
    assert "[" + "█" * 24 + "] 100% 9,000 rows" in screen.getvalue()
    clock.now += 0.25
    bar.tick(9500)  # no size known: a spinner
    last = screen.getvalue().rsplit("\r", 1)[1]
    assert last == "rating ▌ 9,500 rows · 3,393 rows/s · 2.8 s\033[K"
    bar.done()
    assert screen.getvalue().endswith("\r\033[K")


def test_rate_draws_the_bar_on_a_terminal_and_clears_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = tmp_path / "calls.csv"
    rows = [
        f"x{i},outbound,alice@contoso.com,+12125551234,2026-11-02T09:00:00Z,6\n"
        for i in range(3000)
    ]
    calls.write_text("id,direction,user,to,start,duration\n" + "".join(rows), encoding="utf-8")
    clock = Clock()

    def tick() -> float:  # every reading a second later: every tick is drawn
        clock.now += 1.0
        return clock.now

    monkeypatch.setattr(progress.time, "monotonic", tick)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    argv = [
        "rate",
        "--tenant",
        str(TENANT),
        "--calls",
        str(calls),
        "--out",
        str(tmp_path / "o.csv"),
    ]
    code = main(argv)
    out, _ = capsys.readouterr()
    drawn = screen.getvalue()
    assert code == 0 and "3,000" in out
    frames = drawn.split("\r")[1:]
    assert [f.split(" rows")[0].rsplit(" ", 1)[1] for f in frames[:-1]] == [
        "1,024",
        "2,048",
        "3,000",
    ]
    assert frames[0].startswith("rating [") and "rows/s" in frames[0]
    assert frames[-1] == "\033[K"  # cleared: the summary line stands alone
    screen.truncate(0)
    screen.seek(0)
    assert main([*argv, "--no-progress"]) == 0
    assert screen.getvalue() == ""


def test_progress_never_drawn_is_not_cleared() -> None:
    screen = Terminal()
    Progress(screen, "rating").done()
    assert screen.getvalue() == ""


# ---- policy files that cannot be read -----------------------------------------------------


def check_fails(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``ccpolicy check PATH`` reports one located error (findings go to stdout)."""
    code, out, err = cli(["check", str(path)], capsys)
    assert code == 1
    assert "Traceback" not in out + err
    assert "1 error" in out + err
    return out + err


def test_a_binary_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bin.ccp"
    path.write_bytes(b"zone a = US\n\0\1\2")
    assert f"{path}:2:1: error: binary file (contains a NUL byte)" in check_fails(path, capsys)


def test_a_policy_file_not_in_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.ccp"
    path.write_bytes(b'zone a = US\ndenial x "caf\xe9"\n')
    err = check_fails(path, capsys)
    assert f"{path}:2:14: error: not valid UTF-8 text (byte 0xe9)" in err


def test_a_policy_file_too_large(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.ccp"
    path.write_bytes(b"# " + b"x" * MAX_SOURCE_BYTES + b"\n")
    assert f"{path}: error: larger than {MAX_SOURCE_BYTES:,} bytes" in check_fails(path, capsys)
    small = tmp_path / "small.ccp"
    small.write_text("zone a = US\n", encoding="utf-8")
    with pytest.raises(InputError, match="larger than 4 bytes"):
        read_text_file(small, limit=4)


def test_a_policy_path_that_is_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "folder.ccp"
    folder.mkdir()
    with pytest.raises(InputError, match=r"folder\.ccp: error: is a directory, not a file$"):
        read_text_file(folder)
    code, out, err = cli(
        ["eval", "--rules", str(folder), "--tenant", str(TENANT), "--calls", str(CALLS)], capsys
    )
    assert code == 1 and out == "" and "Traceback" not in err
    assert "folder.ccp holds no .ccp policy files" in err
    code, out, err = cli(["fmt", "--check", str(folder)], capsys)
    assert code == 1 and "folder.ccp holds no .ccp files" in err


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root reads any file: permissions cannot be denied to it",
)
def test_a_policy_file_without_read_permission(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secret.ccp"
    path.write_text("zone a = US\n", encoding="utf-8")
    path.chmod(0)
    try:
        assert f"{path}: error: cannot read file: permission denied" in check_fails(path, capsys)
    finally:
        path.chmod(0o600)


def test_permission_denied_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same as above where the suite runs as root: the open is refused by a stand-in."""
    from policy.support import files

    path = tmp_path / "secret.ccp"
    path.write_text("zone a = US\n", encoding="utf-8")

    def refuse(name: Any, *args: Any, **kwargs: Any) -> Any:
        if str(name).endswith("secret.ccp"):
            raise PermissionError(13, "Permission denied", str(name))
        return open(name, *args, **kwargs)

    monkeypatch.setattr(files, "open", refuse, raising=False)
    assert f"{path}: error: cannot read file: permission denied" in check_fails(path, capsys)


# ---- a calls file that is a JSON array ----------------------------------------------------


def test_eval_reads_a_json_array_of_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = yaml.safe_load(CALLS.read_text(encoding="utf-8"))
    path = tmp_path / "calls.json"
    path.write_text(json.dumps(calls, indent=2), encoding="utf-8")
    code, out, err = cli(["eval", "--tenant", str(TENANT), "--calls", str(path)], capsys)
    assert code == 0, err
    code, expected, _ = cli(["eval", "--tenant", str(TENANT), "--calls", str(CALLS)], capsys)
    assert code == 0 and out == expected  # the same decisions as from the YAML file
    assert [json.loads(x)["call"] for x in out.splitlines()] == [c["id"] for c in calls]
    calls[1]["duration"] = -5
    path.write_text(json.dumps(calls, indent=2), encoding="utf-8")
    code, out, err = cli(["eval", "--tenant", str(TENANT), "--calls", str(path)], capsys)
    assert code == 1 and out == ""
    line = json.dumps(calls, indent=2).splitlines().index('    "duration": -5') + 1
    assert f"{path}:{line}: [1].duration: must be at least 0 (got -5)" in err
