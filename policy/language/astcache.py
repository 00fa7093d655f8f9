"""A cache of parsed policy files, like Python's ``.pyc``: parsing with Lark is the slow
part of loading a large policy, and a file that has not changed parses the same.

Entries (``*.ast`` in :func:`policy.support.cache.cache_dir`) are keyed by the AST's shape
version, the grammar, the file's display name and its text; a stale or unreadable entry
is simply parsed again.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from policy.language import ast
from policy.support import cache as disk
from policy.support.cache import Key, cache_dir

__all__ = ["cache_dir", "lookup", "remember"]

_VERSION = "2"  # bump when the AST classes change shape (2: records, pickled by value)


@cache
def _grammar() -> bytes:
    return Path(__file__).with_name("grammar.lark").read_bytes()


def _key(file: str, text: str) -> Key:
    return (_VERSION, _grammar(), file, text)


def lookup(file: str, text: str) -> ast.Module | None:
    """The cached parse of ``text`` (as file ``file``), or None."""
    module = disk.lookup("ast", _key(file, text))
    return module if isinstance(module, ast.Module) else None


def remember(module: ast.Module, text: str) -> None:
    """Store a successful parse; never fails the caller (a read-only home is fine)."""
    disk.store("ast", _key(module.file, text), module)
