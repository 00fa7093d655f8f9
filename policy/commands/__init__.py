"""The ``ccpolicy`` subcommands, one module each.

A command module defines ``NAME``, ``register(subparsers)`` (argparse only — keep heavy
imports inside ``run`` so ``ccpolicy --help`` stays fast) and ``run(args) -> exit code``.
Add a module to ``COMMANDS`` to make it part of the command line.
"""

from __future__ import annotations

COMMANDS = (
    "check",
    "eval",
    "explain",
    "test",
    "analyze",
    "diff",
    "fmt",
    "ledger",
    "rate",
    "report",
    "serve",
)
