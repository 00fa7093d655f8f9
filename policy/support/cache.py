"""The on-disk cache: pickled results stored with everything they came from.

Like Python's ``.pyc``, an entry is only a shortcut. It holds its full key — the exact
texts and versions the value was made from — and is used only when that key equals the
caller's, so a changed input can never be served an old result (the file name, a
64-bit checksum of the key, only finds the entry; two keys sharing a name just replace
each other). A missing, unreadable, truncated or foreign entry reads as None and the
caller does the slow work again; a folder that cannot be written is not an error
either. The folder is ``$CCPOLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/ccpolicy``, else
``~/.cache/ccpolicy`` (created private to the user); ``CCPOLICY_CACHE_DIR=off`` turns
the cache off.

Users: :mod:`policy.language.astcache` (one parsed file) and :mod:`policy.loadcache` (what
``policy.load()`` builds).
"""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path

__all__ = ["Key", "cache_dir", "lookup", "store"]

Key = tuple[str | bytes, ...]


def cache_dir() -> Path | None:
    configured = os.environ.get("CCPOLICY_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ccpolicy"


def _file_name(kind: str, key: Key) -> str:
    crc, adler = 0, 1
    for part in key:
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        for chunk in (b"%d:" % len(data), data):
            crc, adler = zlib.crc32(chunk, crc), zlib.adler32(chunk, adler)
    return f"{crc:08x}{adler:08x}.{kind}"


def lookup(kind: str, key: Key) -> object:
    """The value stored for exactly ``key``, or None (no cache, no entry, a broken one,
    or one made from other inputs)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / _file_name(kind, key)).open("rb") as handle:
            entry = pickle.load(handle)
    except Exception:  # missing, truncated, from another version: the caller starts over
        return None
    if type(entry) is tuple and len(entry) == 2 and entry[0] == key:
        return entry[1]
    return None


def store(kind: str, key: Key, value: object) -> None:
    """Store ``value`` for ``key`` atomically; never fails the caller."""
    folder = cache_dir()
    if folder is None:
        return
    import tempfile  # only when something is stored: a warm cache never writes

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump((key, value), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / _file_name(kind, key))
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, pickle.PicklingError):
        return
