"""Structured logs: one JSON object per line on stderr.

Each request gets one line — time, request id, method, route template, status, latency,
and the tenant and call id when there are any. Nothing else of the request is written:
no token, no header, no body, no client address (the call id is the only personal data).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

__all__ = ["LOGGER", "event", "setup"]

LOGGER = logging.getLogger("ccpolicy.serve")


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}))
        return json.dumps(fields, ensure_ascii=False, default=str)


def setup(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send the service's log to ``stream`` (default stderr) as JSON lines, once."""
    for handler in list(LOGGER.handlers):
        LOGGER.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonLines())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event (``request``, ``reload``, ``listening``…) with its fields."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, name, extra={"fields": fields})
