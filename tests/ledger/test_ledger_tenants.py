"""Tenants sharing one ledger database never see each other's calls (both backends)."""

from __future__ import annotations

from decimal import Decimal

from ledger_support import MONTH, make_call, make_tenant

import policy
from policy.ledger import Ledger


def _charge_in_two_tenants(
    url: str, engine: policy.Engine, first: tuple[str, str], second: tuple[str, str]
) -> None:
    (tenant_a, call_a), (tenant_b, call_b) = first, second
    # Balances just above the recharge threshold: each call recharges, so each decision
    # also has an event for the outbox (whose keys name the tenant and the call).
    a = Ledger(
        url, engine=engine, tenant=make_tenant(tenant=tenant_a, credits={"balance": "10.20"})
    )
    b = Ledger(
        url, engine=engine, tenant=make_tenant(tenant=tenant_b, credits={"balance": "10.40"})
    )
    with a, b:
        a.init(month=MONTH)
        b.init(month=MONTH)
        in_a = a.submit(make_call(call_a, duration=600))
        in_b = b.submit(make_call(call_b, duration=1200))
        assert not in_a.replayed and not in_b.replayed  # both charged
        assert in_a.decision.cost == Decimal("0.24") and in_b.decision.cost == Decimal("0.48")
        assert [e["type"] for e in in_a.decision.to_dict()["events"]] == ["recharge_succeeded"]
        assert [e["type"] for e in in_b.decision.to_dict()["events"]] == ["recharge_succeeded"]
        assert in_a.decision.balance_after == Decimal("34.96")
        assert in_b.decision.balance_after == Decimal("34.92")
        again_a = a.submit(make_call(call_a, duration=600))
        again_b = b.submit(make_call(call_b, duration=1200))
        assert again_a.replayed and again_a.decision == in_a.decision  # each its own
        assert again_b.replayed and again_b.decision == in_b.decision
        assert a.balance().balance == Decimal("34.96")
        assert b.balance().balance == Decimal("34.92")
        assert a.verify() == [] and b.verify() == []


def test_the_same_call_id_in_two_tenants_is_charged_in_each(
    db_url: str, engine: policy.Engine
) -> None:
    _charge_in_two_tenants(db_url, engine, ("contoso", "c1"), ("fabrikam", "c1"))


def test_keys_joined_with_a_slash_do_not_collide(db_url: str, engine: policy.Engine) -> None:
    _charge_in_two_tenants(db_url, engine, ("acme", "x/c1"), ("acme/x", "c1"))
