"""Source: find and read the ``.ccp`` files that make up a policy.

A policy is a directory of ``*.ccp`` files (read in name order, which is also the
order of precedence between files) or a single file. Unreadable input becomes an
:class:`~policy.support.errors.InputError` naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from policy.support.errors import InputError, Location
from policy.support.files import read_text

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record

__all__ = ["SourceFile", "display_name", "read_policy_sources", "read_text_file"]

MAX_SOURCE_BYTES = 4 * 1024 * 1024


@record(frozen=True, slots=True)
class SourceFile:
    name: str  # as shown in messages
    text: str


def display_name(path: Path) -> str:
    """A short, stable name for messages: the bundled rules as ``rules/<file>`` wherever the
    package is installed; other files relative to the working directory when inside it."""
    from policy.support.resources import rules_dir

    try:
        inside = path.resolve().relative_to(rules_dir().resolve())
    except (ValueError, OSError):
        pass
    else:
        return str(Path("rules") / inside)
    try:
        rel = os.path.relpath(path)
    except ValueError:  # a different drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def read_text_file(path: Path, *, limit: int = MAX_SOURCE_BYTES) -> str:
    """Read a UTF-8 policy file (errors as :mod:`policy.support.files` words them)."""
    return read_text(path, display_name(path), limit=limit)


def read_policy_sources(*paths: str | os.PathLike[str]) -> list[SourceFile]:
    """The ``.ccp`` files under each path (a directory or a file), in precedence order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.glob("*.ccp") if p.is_file())
            if not found:
                raise InputError(
                    f"{display_name(path)} holds no .ccp policy files",
                    location=Location(display_name(path)),
                )
            files.extend(found)
        elif path.exists() or path.suffix == ".ccp":
            files.append(path)
        else:
            raise InputError(
                f"no such policy file or directory: {display_name(path)}",
                location=Location(display_name(path)),
            )
    return [SourceFile(display_name(p), read_text_file(p)) for p in files]
