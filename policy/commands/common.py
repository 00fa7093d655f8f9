"""Output conventions shared by every command: findings to stderr, colour only on a
terminal and never with NO_COLOR."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TextIO

from policy.support.errors import Finding

__all__ = ["add_call_options", "paint", "print_findings", "use_color"]


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
