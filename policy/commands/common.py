"""Output conventions shared by every command: findings to stderr, colour only on a
terminal and never with NO_COLOR, ASCII stand-ins on a stream that is not Unicode."""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Sequence
from typing import Any, TextIO

from policy.support.errors import Finding

__all__ = [
    "CALLS_HELP",
    "add_call_options",
    "ascii_fallback",
    "paint",
    "print_findings",
    "use_color",
]

#: What a character the stream cannot encode is written as (else ``?``).
ASCII_STAND_INS = {
    "→": "->",
    "←": "<-",
    "⇔": "<=>",
    "✔": "ok",
    "✗": "x",
    "✘": "x",
    "·": "-",
    "—": "--",
    "–": "-",
    "−": "-",
    "…": "...",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "≈": "~",
    "µ": "u",
    "█": "#",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
}
_HANDLER = "ccpolicy-ascii"


def _stand_in(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(ASCII_STAND_INS.get(c, "?") for c in bad), error.end


codecs.register_error(_HANDLER, _stand_in)


def ascii_fallback(stream: TextIO) -> None:
    """Let ``stream`` write any text: characters its encoding lacks (``→ ✔ ✗ ·`` on a
    cp1252 or ASCII stream) become ASCII stand-ins instead of a ``UnicodeEncodeError``."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        codecs.lookup(encoding)
        "→✔✗·—…".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=_HANDLER)


def use_color(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def paint(text: str, code: str, stream: TextIO) -> str:
    return f"\033[{code}m{text}\033[0m" if use_color(stream) else text


def print_findings(findings: Sequence[Finding], stream: TextIO) -> None:
    for finding in findings:
        text = finding.render()
        if finding.is_error:
            text = text.replace(": error: ", ": " + paint("error", "31;1", stream) + ": ", 1)
        else:
            text = text.replace(": warning: ", ": " + paint("warning", "33;1", stream) + ": ", 1)
        stream.write(text + "\n")


#: How every command describes its calls file (one reader: ``policy.rating.cdr.open_calls``).
CALLS_HELP = (
    "calls: YAML, JSON, JSON Lines or CSV (call fields or a PSTN usage report), told by the "
    "extension, else by the content; - reads standard input"
)


def add_call_options(parser: Any, *, calls_metavar: str, calls_help: str) -> None:
    """The options every call-deciding command shares: tenant, calls, rules, rates."""
    parser.add_argument("--tenant", required=True, metavar="T.yaml")
    parser.add_argument("--calls", required=True, metavar=calls_metavar, help=calls_help)
    parser.add_argument("--rules", metavar="DIR", help="policy directory (default: bundled rules)")
    parser.add_argument(
        "--rates",
        metavar="R.csv",
        help="rate card (default: rates.csv beside the rules, else the bundled card)",
    )
