"""Delivery: send outbox events by e-mail (SMTP, to a configured server) and/or webhook.

At least once, with a dedupe key: e-mails carry it as ``Message-ID`` and
``X-Ccpolicy-Dedupe-Key``; webhook POSTs as ``Idempotency-Key``. A webhook POST is retried
within one run with exponential backoff (``backoff × 2^n``); any failed delivery is due
again after ``retry_after × 2^attempts`` (capped), until ``max_attempts``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import smtplib
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from policy.ledger.outbox import Job

__all__ = [
    "Channel",
    "DeliveryFailed",
    "DeliveryReport",
    "SmtpChannel",
    "WebhookChannel",
    "render_email",
    "safe_url",
]


def safe_url(url: str) -> str:
    """A URL as it may be shown and stored: scheme, host and port only — credentials,
    path and query (where webhook tokens live) replaced by a short digest of the whole
    URL, so two different URLs stay apart and none can be read back."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        parts, host, port = urllib.parse.urlsplit(""), "", ""
    if not parts.scheme or not host:
        return f"(url #{hashlib.sha256(url.encode()).hexdigest()[:12]})"
    host = f"[{host}]" if ":" in host else host
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    hidden = parts.path not in ("", "/") or parts.query or parts.username or parts.fragment
    return (
        f"{parts.scheme}://{host}{port}/…#{digest}" if hidden else f"{parts.scheme}://{host}{port}/"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Webhook POSTs do not follow redirects (urllib would re-send them as body-less GETs
    and call that a success): a 3xx is a failed attempt."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def _location(base: str, location: str | None) -> str:
    """Where a redirect points, for the log: scheme, host, port and path; credentials and
    the query (where tokens live) left out."""
    if not location:
        return "nowhere"
    try:
        parts = urllib.parse.urlsplit(urllib.parse.urljoin(base, location))
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable location)"
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{query}"


class DeliveryFailed(Exception):
    """The server did not accept the message (it will be tried again)."""


class Channel(Protocol):
    @property
    def name(self) -> str:  # email | webhook
        ...

    @property
    def target(self) -> str | None:  # None: one delivery per recipient e-mail; else the URL
        ...

    def send(self, job: Job) -> None: ...


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _header(value: object) -> str:
    """A header value that cannot break the header: control characters become spaces
    (non-ASCII is encoded by the mail library, RFC 2047)."""
    return _CONTROL.sub(" ", str(value)).strip()


def render_email(job: Job, sender: str) -> EmailMessage:
    payload = job.payload
    event = payload["event"]
    detail = ""
    if "amount" in event:
        detail = f" {event['amount']} {payload.get('currency', '')}".rstrip()
    if "pool" in event:
        detail = f" {event['pool']} at {event['percent']}%"
    message = EmailMessage()
    message["From"] = _header(sender)
    message["To"] = _header(job.recipient)
    message["Subject"] = _header(f"[ccpolicy] {payload['tenant']}: {event['type']}{detail}")
    message["Message-ID"] = f"<{job.dedupe_key}@ccpolicy>"
    message["X-Ccpolicy-Dedupe-Key"] = job.dedupe_key
    lines = [
        f"Tenant {_header(payload['tenant'])}: {event['type'].replace('_', ' ')}{detail}.",
        f"Call: {_header(payload['call'])}",
    ]
    if event.get("reason"):
        lines.append(f"Reason: {event['reason']}")
    if payload.get("balance_after") is not None:
        lines.append(f"Balance after: {payload['balance_after']} {payload.get('currency', '')}")
    lines.append(f"You receive this as: {', '.join(payload['roles']) or '(no role)'}")
    message.set_content("\n".join(lines) + "\n")
    return message


@dataclass
class SmtpChannel:
    """E-mail through an SMTP server (``host:port``); plain SMTP, STARTTLS and login
    optional."""

    host: str
    port: int = 25
    sender: str = "ccpolicy@localhost"
    timeout: float = 10.0
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    name: str = field(default="email", init=False)
    target: str | None = field(default=None, init=False)

    def send(self, job: Job) -> None:
        message = render_email(job, self.sender)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message, from_addr=self.sender, to_addrs=[job.recipient])
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"smtp {self.host}:{self.port}: {exc}") from None


@dataclass
class WebhookChannel:
    """HTTP POST of the event as JSON; 2xx is success. Retries ``attempts`` times with
    exponential backoff before the delivery is put back for a later run.

    The URL is configuration and may hold secrets (a token in the path or query,
    ``user:password@``): the ledger stores and shows only :func:`safe_url` of it, and
    ``user:password@`` is sent as an ``Authorization: Basic`` header, never as a host."""

    url: str
    attempts: int = 4
    backoff: float = 0.5
    timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    name: str = field(default="webhook", init=False)

    @property
    def target(self) -> str | None:
        return safe_url(self.url)

    def _endpoint(self) -> tuple[str, dict[str, str]]:
        """The URL to POST to (without credentials) and the headers its credentials make."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.username is None and parts.password is None:
            return self.url, {}
        netloc = parts.netloc.rpartition("@")[2]
        plain = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return plain, {"Authorization": f"Basic {token}"}

    def send(self, job: Job) -> None:
        body = json.dumps({"dedupe_key": job.dedupe_key, **job.payload}, sort_keys=True).encode()
        last = ""
        try:
            url, auth = self._endpoint()
        except ValueError:
            raise DeliveryFailed(f"webhook {safe_url(self.url)}: malformed URL") from None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(
                url,
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": job.dedupe_key,
                    "User-Agent": "ccpolicy-ledger",
                    **auth,
                },
            )
            try:
                with _OPENER.open(request, timeout=self.timeout) as response:
                    response.read()
                    if 200 <= response.status < 300:
                        return
                    last = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                location = exc.headers.get("Location") if exc.headers else None
                exc.close()
                last = f"HTTP {exc.code}"
                if 300 <= exc.code < 400:
                    shown = _location(self.url, location)
                    last = f"HTTP {exc.code} redirect to {shown}, not followed"
                    break  # the receiver moved: a later run, or a corrected URL
                if 400 <= exc.code < 500 and exc.code not in (408, 409, 425, 429):
                    break  # the receiver refuses this message: retrying now will not help
            except (OSError, ValueError) as exc:
                last = str(getattr(exc, "reason", exc))
        raise DeliveryFailed(f"webhook {safe_url(self.url)}: {last}")


@dataclass
class DeliveryReport:
    sent: list[Job] = field(default_factory=list)
    failed: list[tuple[Job, str]] = field(default_factory=list)
    pending: list[Job] = field(default_factory=list)  # dry run: what would be sent

    def to_dict(self) -> dict[str, Any]:
        def row(job: Job, error: str | None = None) -> dict[str, Any]:
            out: dict[str, Any] = {
                "event": job.payload["event"]["type"],
                "call": job.payload["call"],
                "channel": job.channel,
                "recipient": job.recipient,
                "dedupe_key": job.dedupe_key,
            }
            if error is not None:
                out["error"] = error
            return out

        return {
            "sent": [row(j) for j in self.sent],
            "failed": [row(j, e) for j, e in self.failed],
            "pending": [row(j) for j in self.pending],
        }


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed delivery is due again: ``retry_after × 2^(attempts−1)``, capped at
    ``max_delay``; after ``max_attempts`` failed attempts it is ``dead`` (listed by
    ``ccpolicy ledger notify --dead``, re-queued by ``--revive``). The defaults (30 s
    doubling, capped at 1 h, 20 attempts) keep trying for about 14 hours."""

    retry_after: float = 30.0
    max_delay: float = 3600.0
    max_attempts: int = 20

    def next_attempt(self, now: datetime, attempts: int) -> datetime | None:
        if attempts >= self.max_attempts:
            return None
        delay = min(self.retry_after * 2 ** max(attempts - 1, 0), self.max_delay)
        return now + timedelta(seconds=delay)


def channel_targets(channels: Sequence[Channel]) -> list[tuple[str, str | None]]:
    return [(c.name, c.target) for c in channels]
