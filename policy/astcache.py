"""A cache of parsed policy files, like Python's ``.pyc``: parsing with Lark is the slow
part of loading a large policy, and a file that has not changed parses the same.

Entries are keyed by a hash of ccpolicy's version, the grammar, the file's display name
and its text; a stale or unreadable entry is simply parsed again. The folder is
``$CCPOLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/ccpolicy``, else ``~/.cache/ccpolicy``
(created private to the user); ``CCPOLICY_CACHE_DIR=off`` turns the cache off.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import cache
from pathlib import Path

from . import ast

__all__ = ["cache_dir", "lookup", "remember"]

_VERSION = "1"  # bump when the AST classes change shape


def cache_dir() -> Path | None:
    configured = os.environ.get("CCPOLICY_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ccpolicy"


@cache
def _grammar_digest() -> str:
    grammar = Path(__file__).with_name("grammar.lark").read_bytes()
    return hashlib.sha256(grammar).hexdigest()


def _key(file: str, text: str) -> str:
    digest = hashlib.sha256()
    for part in (_VERSION, _grammar_digest(), file, text):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()


def lookup(file: str, text: str) -> ast.Module | None:
    """The cached parse of ``text`` (as file ``file``), or None."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / f"{_key(file, text)}.ast").open("rb") as handle:
            module = pickle.load(handle)
    except Exception:  # missing, truncated, from another version: parse again
        return None
    return module if isinstance(module, ast.Module) else None


def remember(module: ast.Module, text: str) -> None:
    """Store a successful parse; never fails the caller (a read-only home is fine)."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(module, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{_key(module.file, text)}.ast")
    except OSError:
        return
