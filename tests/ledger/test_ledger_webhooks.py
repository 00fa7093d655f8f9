"""Webhooks: redirects are not followed, credentials never appear in the ledger or its
messages, ``user:pass@`` URLs send an Authorization header. Both backends."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
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


def test_webhook_secrets_stay_in_configuration(
    db_url: str, engine: policy.Engine, peer: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from policy.ledger.store import connect, deliveries

    token = f"http://{peer}/hook?token=s3cr3t-token"
    basic = f"http://alice:pa55word@{peer}/basic"
    with charged(db_url, engine) as ledger:
        report = ledger.notify([WebhookChannel(token), WebhookChannel(basic)])
        assert len(report.sent) == 2 and not report.failed
        assert ledger.notify([WebhookChannel(token), WebhookChannel(basic)]).sent == []
    db = connect(db_url, create=False)
    try:
        with db.connect() as conn:
            stored = list(conn.execute(sa.select(deliveries.c.recipient)).scalars())
    finally:
        db.dispose()
    assert len(stored) == 2
    assert not any("s3cr3t" in r or "pa55word" in r or "alice" in r for r in stored)
    shown = repr(report.to_dict())
    assert "s3cr3t" not in shown and "pa55word" not in shown
    paths = {path: auth for _, path, auth in Peer.seen}
    assert paths["/hook?token=s3cr3t-token"] is None  # the receiver gets its token
    assert paths["/basic"] == "Basic " + base64.b64encode(b"alice:pa55word").decode()


def test_a_failing_webhook_never_shows_its_credentials(db_url: str, engine: policy.Engine) -> None:
    hook = WebhookChannel(
        "http://bob:pa55word@127.0.0.1:1/x?token=s3cr3t", attempts=1, sleep=lambda s: None
    )
    with charged(db_url, engine) as ledger:
        report = ledger.notify([hook])
    assert report.failed
    text = repr(report.to_dict())
    assert "pa55word" not in text and "s3cr3t" not in text and "127.0.0.1" in text


def test_sqlite_ledger_is_private(tmp_path: Any, engine: policy.Engine) -> None:
    import os
    import stat

    path = tmp_path / "private.db"
    with Ledger(f"sqlite:///{path}", engine=engine, tenant=make_tenant()) as ledger:
        ledger.init(month=MONTH)
        ledger.charge(make_call("c1"))
    for name in os.listdir(tmp_path):
        if name.startswith("private.db"):
            mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))


def test_a_malformed_database_url_hides_its_password(
    engine: policy.Engine, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from policy.cli import main
    from policy.ledger import LedgerError

    for url in (
        "postgresql://admin:hunter2@[::1/db",
        "postgresql://admin:hunter2@host:notaport/db",
        "mysql://admin:hunter2@host/db",
        "sqlite+weird://admin:hunter2@/x.db",
    ):
        with Ledger(url, engine=engine, tenant=make_tenant()) as ledger:
            with pytest.raises(LedgerError) as caught:
                ledger.balance()
            assert "hunter2" not in str(caught.value), url
    tenant = tmp_path / "t.yaml"
    tenant.write_text(yaml.safe_dump(make_tenant_data()))
    code = main(
        ["ledger", "balance", "--db", "postgresql://a:hunter2@[x/db", "--tenant", str(tenant)]
    )
    _, err = capsys.readouterr()
    assert code == 1 and "hunter2" not in err and "***" in err


def make_tenant_data() -> dict[str, Any]:
    from ledger_support import tenant_data

    return tenant_data()
