"""A cache of parsed policy files, like Python's ``.pyc``: parsing with Lark is the slow
part of loading a large policy, and a file that has not changed parses the same.

Entries (``*.ast`` in :func:`policy.support.cache.cache_dir`, sealed there) are keyed by
the AST's shape version, the code that makes a parse (a digest of the parser, the grammar,
the AST classes and what they build on, and the installed lark and Python —
:func:`policy.support.cache.code_stamp`), the file's display name and its text: an edited
parser never meets an old parse. A stale, unreadable or forged entry is simply parsed
again.
"""

from __future__ import annotations

from policy.language import ast
from policy.support import cache as disk
from policy.support.cache import Key, cache_dir, code_stamp

__all__ = ["cache_dir", "lookup", "remember"]

_VERSION = "2"  # bump when the AST classes change shape (2: records, pickled by value)


# The modules (and grammar) whose code decides a parse.
_PARSER_CODE = (
    "language/parser.py",
    "language/grammar.lark",
    "language/ast.py",
    "support/records.py",
    "support/errors.py",
)


def _key(file: str, text: str) -> Key:
    return (_VERSION, code_stamp(_PARSER_CODE), file, text)


def lookup(file: str, text: str) -> ast.Module | None:
    """The cached parse of ``text`` (as file ``file``), or None."""
    module = disk.lookup("ast", _key(file, text))
    return module if isinstance(module, ast.Module) else None


def remember(module: ast.Module, text: str) -> None:
    """Store a successful parse; never fails the caller (a read-only home is fine)."""
    disk.store("ast", _key(module.file, text), module)
