"""Progress: a one-line bar with rows/s on a terminal (stderr); silent elsewhere.

Quiet when stderr is not a terminal, in CI (``CI`` set) or with ``TERM=dumb``: the
command then prints only its final summary line.
"""

from __future__ import annotations

import os
import time
from typing import TextIO

__all__ = ["Progress", "wants_progress"]


def wants_progress(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


class Progress:
    """``tick(rows)`` redraws at most ten times a second; ``done()`` clears the line."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def tick(self, rows: int, fraction: float | None = None) -> None:
        now = time.monotonic()
        if now - self.last < 0.1:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = rows / elapsed
        if fraction is None:
            bar = "▏▎▍▌▋▊▉█"[int(elapsed * 4) % 8]
        else:
            fraction = min(max(fraction, 0.0), 1.0)
            filled = int(fraction * 24)
            bar = f"[{'█' * filled}{' ' * (24 - filled)}] {fraction:4.0%}"
        self.stream.write(
            f"\r{self.label} {bar} {rows:,} rows · {rate:,.0f} rows/s · {elapsed:,.1f} s\033[K"
        )
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
