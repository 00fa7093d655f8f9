"""A cache of parsed policy files, like Python's ``.pyc``: parsing with Lark is the slow
part of loading a large policy, and a file that has not changed parses the same.

Entries (``*.ast`` in :func:`policy.cache.cache_dir`) are keyed by a hash of the AST's
shape version, the grammar, the file's display name and its text; a stale or unreadable
entry is simply parsed again.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from . import ast
from .cache import cache_dir, digest, read, write

__all__ = ["cache_dir", "lookup", "remember"]

_VERSION = "2"  # bump when the AST classes change shape (2: records, pickled by value)


@cache
def grammar_digest() -> str:
    return digest(Path(__file__).with_name("grammar.lark").read_bytes())


def _name(file: str, text: str) -> str:
    return f"{digest(_VERSION, grammar_digest(), file, text)}.ast"


def lookup(file: str, text: str) -> ast.Module | None:
    """The cached parse of ``text`` (as file ``file``), or None."""
    module = read(_name(file, text))
    return module if isinstance(module, ast.Module) else None


def remember(module: ast.Module, text: str) -> None:
    """Store a successful parse; never fails the caller (a read-only home is fine)."""
    write(_name(module.file, text), module)
