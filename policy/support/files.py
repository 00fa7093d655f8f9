"""One file reader for every input: policy sources, data documents and rate cards.

Every failure is an :class:`~policy.support.errors.InputError` located at the file (and,
for bad bytes, the line and column), in one wording: ``file not found``, ``is a directory,
not a file``, ``cannot read file: permission denied``, ``cannot read file: <reason>``,
``larger than N bytes``, ``binary file (contains a NUL byte); expected UTF-8 text``,
``file is UTF-16 encoded; save it as UTF-8``,
``not valid UTF-8 text (byte 0xNN)``. A UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

import os

from policy.support.errors import InputError, Location

__all__ = ["decode_text", "line_and_column", "read_bytes", "read_text"]


def read_bytes(path: str | os.PathLike[str], name: str, *, limit: int | None = None) -> bytes:
    """The file's bytes; ``name`` is how messages show the file."""
    where = Location(name)
    try:
        if os.path.isdir(path):
            raise InputError("is a directory, not a file", location=where)
        with open(path, "rb") as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except FileNotFoundError:
        raise InputError("file not found", location=where) from None
    except PermissionError:
        raise InputError("cannot read file: permission denied", location=where) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", location=where) from None
    if limit is not None and len(data) > limit:
        raise InputError(f"larger than {limit:,} bytes", location=where)
    return data


def line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of byte ``offset`` in ``data``."""
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", errors="replace")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark dropped), or an InputError at the offending byte."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError("file is UTF-16 encoded; save it as UTF-8", location=Location(name, 1, 1))
    nul = data.find(b"\x00")
    if nul >= 0:
        line, column = line_and_column(data, nul)
        raise InputError(
            "binary file (contains a NUL byte); expected UTF-8 text",
            location=Location(name, line, column),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = line_and_column(data, exc.start)
        raise InputError(
            f"not valid UTF-8 text (byte 0x{data[exc.start]:02x})",
            location=Location(name, line, column),
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike[str], name: str, *, limit: int | None = None) -> str:
    """:func:`read_bytes` then :func:`decode_text`."""
    return decode_text(read_bytes(path, name, limit=limit), name)
