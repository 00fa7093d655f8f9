"""Running the service: one uvicorn server per process on a socket bound beforehand.

The parent checks the policy and adds the tenants to the ledger once, prints where it
listens, then serves itself (one worker) or forks N workers sharing the socket. It
forwards SIGHUP (reload) and SIGTERM/SIGINT (finish requests in flight, then stop) to its
workers and replaces a worker that dies. Workers keep no state of their own besides the
policy: the ledger is the shared state.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from policy.service import logs
from policy.service.app import Service, create_app
from policy.service.auth import Gate, load_tokens
from policy.service.state import Holder, Settings
from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK

__all__ = ["GRACE_SECONDS", "serve"]

GRACE_SECONDS = 30


def _settings(args: argparse.Namespace) -> Settings:
    return Settings(
        ledger_url=args.ledger,
        rules=args.rules,
        rates=args.rates,
        tenants=tuple(args.tenants),
        quota=args.quota,
        grace=args.grace,
    )


def serve(args: argparse.Namespace, sock: socket.socket) -> int:
    logs.setup()
    gate = Gate(load_tokens(args.tokens) if args.tokens else None)
    settings = _settings(args)
    first = Holder(settings)  # check once and initialise the ledger before any worker runs
    ok, findings = first.reload()
    first.close()
    for finding in findings:
        sys.stderr.write(finding.render() + "\n")
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    tenants = "" if not ok else f"; tenants: {', '.join(sorted(_tenant_names(settings)))}"
    sys.stdout.write(
        f"ccpolicy serve: listening on http://{shown}:{port} "
        f"({args.workers} worker{'s' if args.workers > 1 else ''}{tenants})\n"
    )
    if not ok:
        sys.stdout.write(
            "ccpolicy serve: not ready — the policy does not check clean (findings on stderr); "
            "fix it, then send SIGHUP or POST /v1/admin/reload\n"
        )
    sys.stdout.flush()
    if args.workers == 1:
        _worker(args, settings, gate, sock)
        return EXIT_OK
    return _supervise(args, settings, gate, sock)


def _tenant_names(settings: Settings) -> list[str]:
    from policy.data.tenant import Tenant
    from policy.service.state import tenant_files

    return [Tenant.from_file(path).name for path in tenant_files(settings.tenants)]


def _worker(args: argparse.Namespace, settings: Settings, gate: Gate, sock: socket.socket) -> None:
    service = Service(settings, gate, max_body=args.max_body)
    config = uvicorn.Config(
        create_app(service),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACE_SECONDS,
        server_header=False,
    )
    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully; with this
    # handler in place that ends the process normally (exit 0) instead of by the signal.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(
    args: argparse.Namespace, settings: Settings, gate: Gate, sock: socket.socket
) -> int:
    children: dict[int, int] = {}  # pid → slot
    stopping = False
    pending: list[int] = []  # signal numbers

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        pending.append(signum)

    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    def start(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            os.environ["CCPOLICY_SERVE_SUPERVISOR"] = str(os.getppid())
            code = EXIT_OK
            try:
                _worker(args, settings, gate, sock)
            except BaseException:  # a worker never returns into the parent's code
                code = EXIT_BAD_INPUT
            finally:
                os._exit(code)
        children[pid] = slot

    for slot in range(args.workers):
        start(slot)
    logs.event("supervisor", workers=args.workers, pids=sorted(children))
    try:
        while children:
            while pending:
                received = pending.pop(0)
                if received == signal.SIGHUP:
                    for pid in children:
                        _send(pid, signal.SIGHUP)
                else:
                    stopping = True
                    for pid in children:
                        _send(pid, signal.SIGTERM)
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.1)
                continue
            slot = children.pop(pid)
            _mark_dead(pid)
            if not stopping:
                logs.event("worker-died", pid=pid)
                start(slot)
    finally:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder and folder.startswith(os.path.join(_tmp(), "ccpolicy-metrics-")):
            shutil.rmtree(folder, ignore_errors=True)
    return EXIT_OK


def _send(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _tmp() -> str:
    import tempfile

    return tempfile.gettempdir()
