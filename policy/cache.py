"""The on-disk cache: pickled results stored under a hash of everything they came from.

Like Python's ``.pyc``, an entry is only a shortcut: a missing, unreadable, truncated or
foreign entry reads as None and the caller does the slow work again; a folder that
cannot be written is not an error either. The folder is ``$CCPOLICY_CACHE_DIR``, else
``$XDG_CACHE_HOME/ccpolicy``, else ``~/.cache/ccpolicy`` (created private to the user);
``CCPOLICY_CACHE_DIR=off`` turns the cache off.

Users: :mod:`policy.astcache` (one parsed file) and :mod:`policy.loadcache` (what
``policy.load()`` builds).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

__all__ = ["cache_dir", "digest", "read", "write"]


def cache_dir() -> Path | None:
    configured = os.environ.get("CCPOLICY_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ccpolicy"


def digest(*parts: str | bytes) -> str:
    """A hex SHA-256 of the parts, each one delimited (so ``("ab", "c") != ("a", "bc")``)."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        h.update(b"%d:" % len(data))
        h.update(data)
    return h.hexdigest()


def read(name: str) -> object:
    """The value stored as ``name``, or None (no cache, no entry, or a broken one)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / name).open("rb") as handle:
            return pickle.load(handle)
    except Exception:  # missing, truncated, from another version: the caller starts over
        return None


def write(name: str, value: object) -> None:
    """Store ``value`` as ``name`` atomically; never fails the caller."""
    folder = cache_dir()
    if folder is None:
        return
    import tempfile  # only when something is stored: a warm cache never writes

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / name)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError):
        return
