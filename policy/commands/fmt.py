"""``ccpolicy fmt``: print, check, diff or rewrite ``.ccp`` files in the canonical layout.

Exit codes: 0 nothing to do (or formatted text printed / files rewritten); 1 with
``--check``/``--diff`` when a file would change, or when a file cannot be read or parsed
(nothing is written then); 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_USAGE

NAME = "fmt"
STDIN = "-"


def register(commands: Any) -> None:
    fmt = commands.add_parser(
        NAME,
        help="format policy files in the canonical layout",
        description="Format .ccp policy files in the one canonical layout, comments kept "
        "(docs/formatting.md). Without an option, print the formatted text. PATH is a "
        ".ccp file, a directory (its *.ccp files) or - for stdin; default: the *.ccp files "
        "of the current directory. Exit 0 ok, 1 would change (--check/--diff) or a file "
        "cannot be read or parsed (nothing written), 2 usage.",
    )
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="list files that would change; exit 1 if any"
    )
    mode.add_argument(
        "--diff", action="store_true", help="print a unified diff; exit 1 if any file changes"
    )
    mode.add_argument("--write", action="store_true", help="rewrite files in place (atomically)")
    fmt.add_argument("paths", nargs="*", metavar="PATH", help="files or directories")


def run(args: argparse.Namespace) -> int:
    import difflib

    from policy.commands.common import print_findings
    from policy.language.format import format_text
    from policy.language.source import display_name, read_text_file
    from policy.support.errors import Finding, PolicyError

    if args.write and STDIN in args.paths:
        sys.stderr.write("ccpolicy fmt: error: --write cannot rewrite stdin (-)\n")
        return EXIT_USAGE
    findings: list[Finding] = []
    results: list[tuple[Path | None, str, str, str]] = []  # path, name, before, after
    try:
        targets = _targets(args.paths or ["."])
    except PolicyError as exc:
        print_findings(exc.findings, sys.stderr)
        return EXIT_BAD_INPUT
    for path in targets:
        name = "<stdin>" if path is None else display_name(path)
        try:
            before = sys.stdin.read() if path is None else read_text_file(path)
            results.append((path, name, before, format_text(before, name)))
        except PolicyError as exc:
            findings.extend(exc.findings)
    if findings:
        print_findings(findings, sys.stderr)
        return EXIT_BAD_INPUT
    changed = [(path, name, a, b) for path, name, a, b in results if a != b]
    out = sys.stdout
    if args.check:
        for _, name, _, _ in changed:
            out.write(f"would reformat {name}\n")
        out.write(_summary(len(changed), len(results), "would be reformatted"))
    elif args.diff:
        for _, name, before, after in changed:
            out.writelines(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=name,
                    tofile=f"{name} (formatted)",
                )
            )
    elif args.write:
        for path, name, _, after in changed:
            assert path is not None
            try:
                _write_atomically(path, after)
            except OSError as exc:
                sys.stderr.write(f"{name}: error: cannot write: {exc.strerror or exc}\n")
                return EXIT_BAD_INPUT
            out.write(f"reformatted {name}\n")
        out.write(_summary(len(changed), len(results), "reformatted"))
        return EXIT_OK
    else:
        for _, name, _, after in results:
            if len(results) > 1:
                out.write(f"# ==> {name} <==\n")
            out.write(after)
        return EXIT_OK
    return EXIT_BAD_INPUT if changed else EXIT_OK


def _summary(changed: int, total: int, verb: str) -> str:
    files = "file" if changed == 1 else "files"
    return f"{changed} {files} {verb}, {total - changed} already formatted\n"


def _targets(paths: list[str]) -> list[Path | None]:
    """The files to format (``None`` is stdin): directories give their ``*.ccp`` files."""
    from policy.language.source import display_name
    from policy.support.errors import InputError, Location

    targets: list[Path | None] = []
    for raw in paths:
        path = Path(raw)
        if raw == STDIN:
            targets.append(None)
        elif path.is_dir():
            found = sorted(p for p in path.glob("*.ccp") if p.is_file())
            if not found:
                where = Location(display_name(path))
                raise InputError(f"{display_name(path)} holds no .ccp files", location=where)
            targets.extend(found)
        else:
            targets.append(path)
    return targets


def _write_atomically(path: Path, text: str) -> None:
    """Write a sibling temporary file, then rename it over ``path``: readers see the old
    file or the new one, never half of it."""
    import os
    import tempfile

    mode = path.stat().st_mode & 0o7777
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
