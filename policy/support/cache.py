"""The on-disk cache: results sealed with a key only this user holds.

Like Python's ``.pyc``, an entry is only a shortcut, used only for exactly the inputs it
was made from. Unlike a ``.pyc``, its folder is not trusted (``docs/security.md``):

- An entry is named by a SHA-256 of its kind and key (the exact texts, code and library
  versions the value was made from) and sealed with an HMAC-SHA256 of that digest and the
  value's bytes, under a random per-user secret kept outside the cache folder
  (``$XDG_STATE_HOME/ccpolicy/cache-key``, else ``~/.local/state/ccpolicy/cache-key``;
  created 0600 in a 0700 folder). The seal is checked with :func:`hmac.compare_digest`
  *before* anything is unpickled, so bytes someone else wrote are never unpickled, and an
  entry made for other inputs fails the check as surely as a forged one.
- The folder is ``$CCPOLICY_CACHE_DIR``, else ``$XDG_CACHE_HOME/ccpolicy``, else
  ``~/.cache/ccpolicy``, created 0700; ``CCPOLICY_CACHE_DIR=off`` turns the cache off. A
  folder (or key) owned by another user or writable by group or others is not used: the
  cache is off for the process, with one warning on stderr and never an error.
- Entries are written to a private temporary file in the same folder and renamed into
  place, so a reader sees a whole entry or none.

A missing, unreadable, truncated, forged or foreign entry reads as None and the caller
does the slow work again; a folder that cannot be written is not an error either.

Users: :mod:`policy.language.astcache` (one parsed file), :mod:`policy.language.parser`
(Lark's parse tables) and :mod:`policy.loadcache` (what ``policy.load()`` builds).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import stat
import sys
from functools import cache
from pathlib import Path

__all__ = ["Key", "cache_dir", "code_stamp", "key_file", "lookup", "store"]

Key = tuple[str | bytes, ...]

_MAGIC = b"ccpolicy-cache-1\n"  # bump when the layout of an entry changes
_SEAL = hashlib.sha256().digest_size
_SECRET_BYTES = 32
_warned: list[str] = []  # at most one warning per process
_secrets: dict[Path, bytes] = {}


def cache_dir() -> Path | None:
    configured = os.environ.get("CCPOLICY_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "no") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ccpolicy"


def key_file() -> Path:
    """Where the secret that seals entries is kept: outside any cache folder."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "ccpolicy" / "cache-key"


# ---- what a key is made of -----------------------------------------------------------


@cache
def code_digest(paths: tuple[Path, ...]) -> str:
    """A SHA-256 of the contents of these files (code, grammar, schemas): an edited
    module makes a new key. A file that cannot be read counts as its name only."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            data = b"\0missing"
        digest.update(b"%s\0%d\0" % (path.name.encode(), len(data)))
        digest.update(data)
    return digest.hexdigest()


@cache
def _site_listing(folder: str) -> tuple[str, ...]:
    try:
        return tuple(os.listdir(folder))
    except OSError:
        return ()


@cache
def library_stamp(module: str, distribution: str) -> str:
    """Which installed copy of a library this is, without importing it: the version named
    by its ``*.dist-info`` folder and the path, size and time of its ``__init__.py``."""
    from importlib.util import find_spec

    spec = find_spec(module)
    origin = spec.origin if spec is not None else None
    if origin is None:
        return f"{module}:-"
    info = os.stat(origin)
    site = os.path.dirname(os.path.dirname(origin))
    prefix = distribution.lower().replace("-", "_") + "-"
    versions = sorted(
        name[len(prefix) : -len(".dist-info")]
        for name in _site_listing(site)
        if name.lower().startswith(prefix) and name.endswith(".dist-info")
    )
    return f"{module}={','.join(versions)}:{origin}:{info.st_size}:{info.st_mtime_ns}"


def python_stamp() -> str:
    return f"{sys.implementation.cache_tag}:{sys.version}"


_LIBRARIES = (
    ("lark", "lark"),
    ("yaml", "PyYAML"),
    ("jsonschema", "jsonschema"),
    ("phonenumbers", "phonenumbers"),
)


@cache
def code_stamp(patterns: tuple[str, ...]) -> str:
    """What shapes a result besides its inputs: a digest of the package's files matching
    ``patterns`` (``language/*.py``; ``schemas/NAME`` for a bundled schema), the installed
    lark, PyYAML, jsonschema and phonenumbers, and Python."""
    from policy.support.resources import schemas_dir

    package = Path(__file__).parent.parent
    paths: list[Path] = []
    for pattern in patterns:
        folder, _, base = pattern.rpartition("/")
        where = schemas_dir() if folder == "schemas" else package / folder
        paths += sorted(where.glob(base))
    libraries = ";".join(library_stamp(module, dist) for module, dist in _LIBRARIES)
    return f"{code_digest(tuple(paths))};{libraries};{python_stamp()}"


def _key_digest(kind: str, key: Key) -> bytes:
    digest = hashlib.sha256()
    for part in (kind, *key):
        data = part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(data))
        digest.update(data)
    return digest.digest()


# ---- whom to trust -------------------------------------------------------------------


def _warn(message: str) -> None:
    if not _warned:
        _warned.append(message)
        print(f"ccpolicy: warning: {message}; the cache is off", file=sys.stderr)


def _private(path: Path, info: os.stat_result, what: str) -> bool:
    """True when ``path`` belongs to this user and nobody else may write it."""
    problem = None
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        problem = f"owned by another user (uid {info.st_uid})"
    elif info.st_mode & 0o022:
        problem = "writable by group or others"
    if problem is not None:
        _warn(f"not using {what} {path}: it is {problem}")
        return False
    return True


def _trusted_folder(folder: Path, create: bool, what: str = "the cache folder") -> bool:
    if create:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            return False
    try:
        info = folder.stat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and _private(folder, info, what)


def _read_secret(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not _private(path, info, "the cache key"):
            return None
        if info.st_mode & 0o077:
            _warn(f"not using the cache key {path}: others may read it")
            return None
        secret = handle.read(_SECRET_BYTES + 1)
    return secret if len(secret) == _SECRET_BYTES else None


def _secret(create: bool) -> bytes | None:
    """This user's sealing secret; made (atomically, 0600) when ``create`` and missing."""
    path = key_file()
    known = _secrets.get(path)
    if known is not None:
        return known
    if not _trusted_folder(path.parent, create, "the cache key's folder"):
        return None
    secret = _read_secret(path)
    if secret is None and create and not os.path.lexists(path):
        import tempfile

        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".cache-key-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(os.urandom(_SECRET_BYTES))
                os.link(tmp, path)  # never replaces a key another process just made
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        except OSError:
            return None
        secret = _read_secret(path)
    if secret is not None:
        _secrets[path] = secret
    return secret


def _seal(secret: bytes, digest: bytes, payload: bytes | memoryview) -> bytes:
    return hmac.new(secret, _MAGIC + digest + payload, hashlib.sha256).digest()


def _file_name(kind: str, digest: bytes) -> str:
    return f"{digest[:16].hex()}.{kind}"


# ---- entries -------------------------------------------------------------------------


def lookup(kind: str, key: Key) -> object:
    """The value stored for exactly ``key``, or None (no cache, no entry, a broken, forged
    or untrusted one, or one made from other inputs)."""
    folder = cache_dir()
    if folder is None or not _trusted_folder(folder, create=False):
        return None
    secret = _secret(create=False)
    if secret is None:
        return None
    digest = _key_digest(kind, key)
    try:
        fd = os.open(folder / _file_name(kind, digest), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    head = len(_MAGIC) + _SEAL
    if len(data) < head or not data.startswith(_MAGIC):
        return None
    payload = memoryview(data)[head:]
    if not hmac.compare_digest(data[len(_MAGIC) : head], _seal(secret, digest, payload)):
        return None  # not written by this user for this key: never unpickled
    try:
        return pickle.loads(payload)
    except Exception:  # sealed by us, yet from a build whose classes have moved
        return None


def store(kind: str, key: Key, value: object) -> None:
    """Store ``value`` for ``key`` atomically; never fails the caller."""
    folder = cache_dir()
    if folder is None or not _trusted_folder(folder, create=True):
        return
    secret = _secret(create=True)
    if secret is None:
        return
    import tempfile  # only when something is stored: a warm cache never writes

    digest = _key_digest(kind, key)
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a value pickle cannot store (a local function...): not cached
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")  # 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MAGIC + _seal(secret, digest, payload) + payload)
            os.replace(tmp, folder / _file_name(kind, digest))
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        return
