"""The credits ledger: persistent balances, funding lots, pools, charges and notifications
on SQLite (the embedded default) or PostgreSQL (many telephony nodes).

    from policy.ledger import Ledger
    ledger = Ledger("sqlite:///ccpolicy.db", tenant=policy.Tenant.from_file("tenant.yaml"))
    ledger.init()
    ledger.authorize(call).max_duration
    ledger.charge(call)            # atomic, idempotent by call id
    ledger.fund("50.00")           # a lot that expires 12 months later

Needs the ``ledger`` extra (SQLAlchemy 2, psycopg 3).
"""

from __future__ import annotations

from policy.ledger.delivery import (
    DeliveryFailed,
    DeliveryReport,
    RetryPolicy,
    SmtpChannel,
    WebhookChannel,
)
from policy.ledger.errors import LedgerError
from policy.ledger.ledger import Charged, Ledger, add_months
from policy.ledger.payments import PaymentProvider, PaymentResult, SimulatedProvider
from policy.ledger.records import BalanceReport, LotReport
from policy.ledger.sessions import Grant

__all__ = [
    "BalanceReport",
    "Charged",
    "DeliveryFailed",
    "DeliveryReport",
    "Grant",
    "Ledger",
    "LedgerError",
    "LotReport",
    "PaymentProvider",
    "PaymentResult",
    "RetryPolicy",
    "SimulatedProvider",
    "SmtpChannel",
    "WebhookChannel",
    "add_months",
]
