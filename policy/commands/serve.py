"""``ccpolicy serve``: the decision and charging service over HTTP (Starlette on uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from typing import Any

from policy.commands.common import add_session_options
from policy.support.errors import MissingExtraError, PolicyError, UsageError

NAME = "serve"
DEFAULT_DB = "sqlite:///ccpolicy.db"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8421


def register(commands: Any) -> None:
    serve = commands.add_parser(
        NAME,
        help="the decision and charging service over HTTP",
        description="Answer decisions, sessions and charges over HTTP (JSON), on one ledger "
        "shared by every server that names it. Defaults: the bundled rules, the example "
        f"tenant, {DEFAULT_DB} in the working directory, {DEFAULT_HOST}:{DEFAULT_PORT}. "
        "SIGHUP reloads the policy; SIGTERM lets requests in flight finish. "
        "Exit 0 stopped, 1 bad input, 2 usage.",
    )
    serve.add_argument("--rules", metavar="DIR", help="policy directory (default: bundled)")
    serve.add_argument("--rates", metavar="R.csv", help="rate card (default: the rules' card)")
    serve.add_argument(
        "--tenants",
        nargs="+",
        metavar="PATH",
        default=[],
        help="tenant files or directories of them (default: the example tenant)",
    )
    serve.add_argument(
        "--ledger",
        metavar="URL",
        default=os.environ.get("CCPOLICY_DB", DEFAULT_DB),
        help=f"sqlite:///path or postgresql://… (default: $CCPOLICY_DB, else {DEFAULT_DB})",
    )
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}; 0: any free port"
    )
    serve.add_argument(
        "--tokens", metavar="FILE", help="bearer tokens (YAML); required off loopback"
    )
    add_session_options(serve)
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="processes (default 1)")
    serve.add_argument(
        "--max-body",
        type=int,
        default=64 * 1024,
        metavar="BYTES",
        help="largest request body accepted (default 65536)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port (0–65535; 0 picks a free one)")
    if args.quota is None or args.quota < 1:
        raise UsageError("--quota must be at least 1 second")
    if args.grace is not None and args.grace < 0:
        raise UsageError("--grace must not be negative")
    if args.max_body < 1024:
        raise UsageError("--max-body must be at least 1024 bytes")
    if args.tokens is None and not _is_loopback(args.host):
        raise UsageError(
            f"refusing to listen on {args.host} without --tokens: anyone who can reach it "
            "could decide and charge calls",
            hint="give --tokens FILE (docs/serve.md, 'Tokens'), or listen on 127.0.0.1",
        )
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile  # before prometheus_client is imported: it reads this once

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ccpolicy-metrics-")
    try:
        import prometheus_client  # noqa: F401
        import sqlalchemy  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("ccpolicy serve", "serve", exc.name or "starlette") from None
    from policy.service.runner import serve

    sock = _bind(args.host, args.port)
    try:
        return serve(args, sock)
    finally:
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PolicyError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
