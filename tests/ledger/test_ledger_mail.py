"""Mail: names in headers cannot inject or crash; a failing delivery is always counted."""

from __future__ import annotations

from email import message_from_string
from typing import Any

import pytest
from ledger_support import MONTH, make_call, make_tenant, tenant_data

import policy
from policy.ledger import Ledger, RetryPolicy
from policy.ledger.delivery import render_email
from policy.ledger.outbox import Job
from policy.support.errors import PolicyError


@pytest.mark.parametrize("name", ["acme\nBcc: evil@example.com", "acme\r\nX: y", "a\x00b", "a\tb"])
def test_a_control_character_in_a_tenant_name_is_refused(name: str) -> None:
    with pytest.raises(PolicyError) as caught:
        policy.Tenant.from_dict(tenant_data(tenant=name))
    assert "tenant" in (caught.value.finding.path or "")


def test_mail_headers_are_encoded_safely() -> None:
    payload = {
        "tenant": "acme\nBcc: evil@example.com",
        "call": "c1\r\nX-Injected: 1",
        "event": {"type": "balance_zero", "amount": "0.00"},
        "currency": "USD",
        "balance_after": "0.00",
        "roles": ["billing_admin"],
        "recipients": ["ann@contoso.com"],
    }
    job = Job(1, "email", "ann@contoso.com", "ccp-1", 0, payload)
    message = render_email(job, "ccpolicy@localhost")
    parsed = message_from_string(message.as_string())
    assert set(parsed.keys()) == {
        "From",
        "To",
        "Subject",
        "Message-ID",
        "X-Ccpolicy-Dedupe-Key",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    }
    assert "acme" in str(parsed["Subject"]) and "Bcc" in str(parsed["Subject"])
    assert "\nBcc:" not in parsed.get_payload() and "\nX-Injected" not in parsed.get_payload()


class Exploding:
    name = "email"
    target = None

    def send(self, job: Job) -> None:
        raise ValueError("a header the mail library refused")


def test_a_crashing_channel_counts_the_attempt(db_url: str, engine: policy.Engine) -> None:
    import sqlalchemy as sa

    from policy.ledger.store import connect, deliveries

    with Ledger(db_url, engine=engine, tenant=make_tenant()) as ledger:
        ledger.init(month=MONTH)
        assert ledger.charge(make_call("c1", duration=36000)).notify
        report = ledger.notify([Exploding()], retry=RetryPolicy(retry_after=0, max_attempts=2))
        assert report.failed and not report.sent
        assert "ValueError" in report.failed[0][1]
        again = ledger.notify([Exploding()], retry=RetryPolicy(retry_after=0, max_attempts=2))
        assert again.failed
    db = connect(db_url, create=False)
    try:
        with db.connect() as conn:
            rows: list[Any] = conn.execute(
                sa.select(deliveries.c.status, deliveries.c.attempts, deliveries.c.claimed_until)
            ).all()
    finally:
        db.dispose()
    assert rows and all(r.status == "dead" and r.attempts == 2 for r in rows)
    assert all(r.claimed_until is None for r in rows)  # never left leased


def test_dead_letters_are_listed_warned_and_revived(
    db_url: str, engine: policy.Engine, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import yaml

    from policy.cli import main

    with Ledger(db_url, engine=engine, tenant=make_tenant()) as ledger:
        ledger.init(month=MONTH)
        ledger.charge(make_call("c1", duration=36000))
        ledger.notify([Exploding()], retry=RetryPolicy(retry_after=0, max_attempts=1))
        dead = ledger.dead_letters()
        assert dead and all(d["attempts"] == 1 and "ValueError" in d["error"] for d in dead)
        assert ledger.balance().dead_letters == len(dead)
    tenant = tmp_path / "t.yaml"
    tenant.write_text(yaml.safe_dump(tenant_data()))
    common = ["--db", db_url, "--tenant", str(tenant)]
    assert main(["ledger", "balance", *common]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["dead_deliveries"] == len(dead)
    assert f"warning: {len(dead)} notification deliveries are dead" in err
    assert main(["ledger", "notify", *common, "--dead"]) == 0
    out, err = capsys.readouterr()
    listed = [json.loads(line) for line in out.splitlines()]
    assert {row["recipient"] for row in listed} == {d["recipient"] for d in dead}
    assert main(["ledger", "notify", *common, "--revive"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"revived": len(dead)}
    with Ledger(db_url, engine=engine, tenant=make_tenant()) as ledger:
        assert ledger.dead_letters() == [] and ledger.balance().dead_letters == 0
        preview = ledger.notify([Exploding()], dry_run=True)
        assert len(preview.pending) == len(dead)  # due again, from a fresh count
