"""The ``ccpolicy`` command line (docs/reference.md, "Command line").

Results go to stdout, errors to stderr, never a traceback for bad input.
Exit codes: 0 clean / decided, 1 findings or bad input, 2 usage error.
Each subcommand lives in :mod:`policy.commands`; heavy modules are imported inside the
commands so ``ccpolicy --help`` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from policy import __version__
from policy.commands import COMMANDS
from policy.commands.common import print_findings
from policy.support.errors import EXIT_OK, EXIT_USAGE, PolicyError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ccpolicy",
        description="Policy engine for prepaid telephone Communications Credits: is this call "
        "permitted, what does it cost, who pays, and who must be told?",
    )
    parser.add_argument("--version", action="version", version=f"ccpolicy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    module = importlib.import_module(f".commands.{args.command}", __package__)
    try:
        code: int = module.run(args)
        return code
    except PolicyError as exc:
        print_findings(exc.findings, sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_OK
