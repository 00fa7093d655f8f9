"""Keys are structured (tenant, call, n): no tenant's call id can collide with another's."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import sqlalchemy as sa
from ledger_support import MONTH, make_call, make_tenant

import policy
from policy.ledger import Ledger, SimulatedProvider
from policy.ledger.outbox import dedupe_key


def test_slash_in_tenant_and_call_id_do_not_collide(db_url: str, engine: policy.Engine) -> None:
    provider = SimulatedProvider()  # one provider for both tenants, as in production
    with (
        Ledger(db_url, engine=engine, tenant=make_tenant(tenant="acme"), provider=provider) as a,
        Ledger(db_url, engine=engine, tenant=make_tenant(tenant="acme/x"), provider=provider) as b,
    ):
        a.init(month=MONTH)
        b.init(month=MONTH)
        # a long call: the balance falls below the threshold, an auto-recharge and events
        first = a.charge(make_call("x/c1", duration=36000))
        second = b.charge(make_call("c1", duration=36000))
        assert first.call == "x/c1" and second.call == "c1"
        assert first.events and second.events
        assert [e.type for e in second.events] == [e.type for e in first.events]
        recharges = [e for e in second.events if e.type == "recharge_succeeded"]
        assert recharges and len(provider.attempts) == 2  # each tenant paid its own recharge
        assert a.verify() == [] and b.verify() == []
        assert a.balance().balance == b.balance().balance


def test_same_call_id_in_two_tenants(db_url: str, engine: policy.Engine) -> None:
    with (
        Ledger(db_url, engine=engine, tenant=make_tenant(tenant="north")) as a,
        Ledger(db_url, engine=engine, tenant=make_tenant(tenant="south")) as b,
    ):
        a.init(month=MONTH)
        b.init(month=MONTH)
        one = a.submit(make_call("c1", duration=600))
        two = b.submit(make_call("c1", duration=36000))
        assert not one.replayed and not two.replayed
        assert one.decision.cost == Decimal("0.24") and two.decision.cost != one.decision.cost
        assert a.submit(make_call("c1", duration=600)).decision == one.decision
        assert b.submit(make_call("c1", duration=600)).decision == two.decision
        assert [d.call for d in a.charged()] == ["c1"] and [d.call for d in b.charged()] == ["c1"]


def test_dedupe_keys_are_structured() -> None:
    assert dedupe_key("acme", "x/c1", 0, "email", "a@b") != dedupe_key(
        "acme/x", "c1", 0, "email", "a@b"
    )
    assert dedupe_key("a", "b", 1, "email", "x") == dedupe_key("a", "b", 1, "email", "x")


def test_version_1_outbox_is_migrated(db_url: str, engine: policy.Engine) -> None:
    """A ledger made by schema version 1 (event keys joined as strings) is converted."""
    from policy.ledger.migrations import m0001_initial
    from policy.ledger.store import connect, schema_migrations

    db = connect(db_url, create=True)
    try:
        with db.begin() as conn:
            schema_migrations.create(conn)
            m0001_initial.upgrade(conn)
            conn.execute(
                schema_migrations.insert().values(
                    version=1, name="initial", applied_at=policy_now()
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO tenants (id, name, country, billing_country, currency, "
                    "overdraft, failing, created_at) VALUES (1, 'acme', 'US', 'US', 'USD', "
                    ":zero, false, :now)"
                ),
                {"zero": "0" if db.dialect.name == "sqlite" else 0, "now": policy_now_naive()},
            )
            payload = {
                "tenant": "acme",
                "call": "x/c1",
                "event": {"type": "balance_zero"},
                "currency": "USD",
                "balance_after": "0.00",
                "roles": ["billing_admin"],
                "recipients": ["ann@contoso.com"],
                "at": "2026-03-02T09:00:00+00:00",
            }
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (id, tenant_id, event_key, type, payload, created_at, "
                    "expanded) VALUES (1, 1, 'acme/x/c1/3', 'balance_zero', :p, :now, false)"
                ),
                {"p": json.dumps(payload), "now": policy_now_naive()},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO deliveries (id, outbox_id, channel, recipient, status, "
                    "attempts, next_attempt_at) VALUES (1, 1, 'email', 'ann@contoso.com', "
                    "'pending', 2, :now)"
                ),
                {"now": policy_now_naive()},
            )
    finally:
        db.dispose()
    with Ledger(db_url, engine=engine, tenant=make_tenant(tenant="acme")) as ledger:
        assert ledger.init(month=MONTH)["migrations"][0] == 2
    db = connect(db_url, create=False)
    try:
        with db.connect() as conn:
            row = conn.execute(sa.text("SELECT tenant_id, call_id, seq FROM outbox")).one()
            kept = conn.execute(sa.text("SELECT outbox_id, attempts FROM deliveries")).one()
    finally:
        db.dispose()
    assert tuple(row) == (1, "x/c1", 3) and tuple(kept) == (1, 2)
    with Ledger(db_url, engine=engine, tenant=make_tenant(tenant="acme")) as ledger:
        ledger.charge(make_call("x/c1", duration=36000))  # the old key blocks nothing
        assert ledger.verify() == []


def policy_now() -> datetime:
    return datetime(2026, 3, 1, tzinfo=timezone.utc)


def policy_now_naive() -> datetime:
    return policy_now().replace(tzinfo=None)
