"""Reading a request body: JSON only, bounded in size, depth and content.

Anything a client can send that is not a sane JSON document is a 4xx here — a wrong
content type (415), a body over the limit (413), bytes that are not UTF-8, malformed JSON,
``NaN``, numbers too long to convert, nesting deeper than :data:`MAX_DEPTH`, strings
holding lone surrogates (``"\\ud800"``) (400 ``bad_json``) — so nothing behind it ever
meets them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from policy.service.errors import ApiError

__all__ = ["DEFAULT_MAX_BODY", "MAX_DEPTH", "read_json"]

DEFAULT_MAX_BODY = 64 * 1024
MAX_DEPTH = 32


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON document, or an :class:`ApiError` (400, 413, 415)."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "send the body as application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    try:
        text = bytes(chunks).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the body is not UTF-8 (byte {exc.start})", code="bad_json") from None
    try:
        value = _decode(text)
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply", code="bad_json") from None
    except ValueError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", code="bad_json") from None
    problem = _insane(value, 0)
    if problem:
        raise ApiError(400, f"the body is not acceptable JSON: {problem}", code="bad_json")
    return value


def _insane(value: Any, depth: int) -> str | None:
    """Why ``value`` is unacceptable (deep nesting, a lone surrogate), or None."""
    if depth > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _bad_text(key) or _insane(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _insane(item, depth + 1)
            if problem:
                return problem
    return None


def _bad_text(text: str) -> str | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a string holds a lone surrogate (not Unicode text)"
    return None
