"""Webhooks: redirects are not followed, credentials never appear in the ledger or its
messages, ``user:pass@`` URLs send an Authorization header. Both backends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from ledger_support import MONTH, make_call, make_tenant

import policy
from policy.ledger import Ledger, RetryPolicy, WebhookChannel


class Peer(BaseHTTPRequestHandler):
    """POST /redirect → 302 elsewhere; POST /hook → 200. Records every request."""

    seen: ClassVar[list[tuple[str, str, str | None]]] = []  # (method, path, Authorization)

    def _record(self) -> None:
        Peer.seen.append((self.command, self.path, self.headers.get("Authorization")))

    def do_POST(self) -> None:
        self._record()
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere?token=s3cr3t-location")
        else:
            self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._record()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    Peer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def charged(url: str, engine: policy.Engine) -> Ledger:
    ledger = Ledger(url, engine=engine, tenant=make_tenant())
    ledger.init(month=MONTH)
    decision = ledger.charge(make_call("c1", duration=36000))
    assert decision.events
    return ledger


def test_a_redirect_is_a_failed_attempt(db_url: str, engine: policy.Engine, peer: str) -> None:
    hook = WebhookChannel(f"http://{peer}/redirect", attempts=3, sleep=lambda s: None)
    with charged(db_url, engine) as ledger:
        report = ledger.notify([hook], retry=RetryPolicy(retry_after=3600))
    assert not report.sent and report.failed
    error = report.failed[0][1]
    assert "HTTP 302" in error and "/elsewhere" in error and "s3cr3t" not in error
    assert all(method == "POST" for method, _, _ in Peer.seen)  # never followed as a GET
    assert len(Peer.seen) == len(report.failed)  # a redirect is not retried at once
