"""Notifications: events reach a real local SMTP server and a local webhook, at least once,
never twice to the same recipient for the same event."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from ledger_support import MONTH, make_call, make_tenant

import policy
from policy.ledger import Ledger, RetryPolicy, SmtpChannel, WebhookChannel

NOW = RetryPolicy(retry_after=0)  # failed deliveries are due again at once


class Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (dedupe key, recipient)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        for rcpt in envelope.rcpt_tos:
            self.received.append((message["X-Ccpolicy-Dedupe-Key"], rcpt))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def charged_ledger(
    url: str, engine: policy.Engine
) -> tuple[Ledger, set[tuple[tuple[str, str, int], str]]]:
    """A ledger whose calls raised several events; returns the expected (event, recipient)."""
    ledger = Ledger(url, engine=engine, tenant=make_tenant())
    ledger.init(month=MONTH)
    expected = set()
    for i in range(30):
        decision = ledger.charge(make_call(f"c{i}", duration=7200))
        for n, notice in enumerate(decision.notify):
            for email in notice.recipients:
                expected.add((("contoso", f"c{i}", n), email))
    assert len(expected) >= 4
    return ledger, expected


def test_smtp_down_then_back(db_url: str, engine: policy.Engine) -> None:
    from policy.ledger.outbox import dedupe_key

    ledger, expected = charged_ledger(db_url, engine)
    keys = {dedupe_key(*event, "email", rcpt): rcpt for event, rcpt in expected}
    port = free_port()
    smtp = SmtpChannel("127.0.0.1", port, sender="ccpolicy@contoso.com", timeout=5)
    with ledger:
        preview = ledger.notify([smtp], dry_run=True)
        assert {(j.dedupe_key, j.recipient) for j in preview.pending} == set(keys.items())
        down = ledger.notify([smtp], retry=NOW)  # nobody listens: every attempt fails
        assert not down.sent and len(down.failed) == len(expected)
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            back = ledger.notify([smtp], retry=NOW)
            again = ledger.notify([smtp], retry=NOW)
        finally:
            controller.stop()
        assert len(back.sent) == len(expected) and not back.failed
        assert not again.sent and not again.failed
    counts = Counter(inbox.received)
    assert set(counts) == set(keys.items())  # none lost
    assert max(counts.values()) == 1  # none twice to the same recipient for the same event


class Flaky(BaseHTTPRequestHandler):
    failures_left = 0
    lock = threading.Lock()
    posts: ClassVar[list[tuple[str, int, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Flaky.lock:
            status = 503 if Flaky.failures_left > 0 else 200
            Flaky.failures_left -= 1
            Flaky.posts.append((self.headers["Idempotency-Key"], status, body))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Flaky.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_retries_with_backoff(db_url: str, engine: policy.Engine, webhook: str) -> None:
    ledger, expected = charged_ledger(db_url, engine)
    events = {event for event, _ in expected}
    sleeps: list[float] = []
    hook = WebhookChannel(webhook, attempts=4, backoff=0.001, sleep=sleeps.append)
    Flaky.failures_left = 2
    with ledger:
        report = ledger.notify([hook], retry=NOW)
        again = ledger.notify([hook], retry=NOW)
    assert len(report.sent) == len(events) and not report.failed and not again.sent
    assert sleeps[:2] == [0.001, 0.002]  # exponential backoff between the first tries
    statuses = [status for _, status, _ in Flaky.posts]
    assert statuses[:3] == [503, 503, 200]
    ok = Counter(key for key, status, _ in Flaky.posts if status == 200)
    assert len(ok) == len(events) and max(ok.values()) == 1
    assert {body["event"]["type"] for _, _, body in Flaky.posts} <= {
        "recharge_succeeded",
        "recharge_failed",
        "balance_zero",
        "pool_threshold",
    }


def test_webhook_down_is_retried_later_not_now(
    db_url: str, engine: policy.Engine, webhook: str
) -> None:
    ledger, expected = charged_ledger(db_url, engine)
    events = {event for event, _ in expected}
    hook = WebhookChannel(webhook, attempts=2, backoff=0.0, sleep=lambda s: None)
    Flaky.failures_left = 10**6
    with ledger:
        first = ledger.notify([hook], retry=RetryPolicy(retry_after=3600))
        assert len(first.failed) == len(events) and "HTTP 503" in first.failed[0][1]
        posts = len(Flaky.posts)
        later = ledger.notify([hook], retry=RetryPolicy(retry_after=3600))
        assert not later.sent and not later.failed and len(Flaky.posts) == posts  # not due
        Flaky.failures_left = 0
        assert not ledger.notify([hook]).sent  # still waiting for its backoff
