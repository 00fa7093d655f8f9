"""Payments: the provider interface the ledger buys credits through, and a simulated one.

The ledger asks the provider exactly when money is to be taken: a one-time purchase
(``fund``) or an auto-recharge the engine attempts (SPEC ruling 7). Every request carries
an idempotency key made by :func:`payment_key` from (tenant, kind, call or purchase id) —
each part escaped, so two different triples never give one key — and a real provider can
refuse to take the money twice when a crashed transaction is retried.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import NamedTuple, Protocol
from urllib.parse import quote

from policy.data.tenant import Tenant

__all__ = ["PaymentProvider", "PaymentResult", "SimulatedProvider", "payment_key"]


def payment_key(tenant: str, kind: str, ident: str) -> str:
    """The idempotency key of one payment: ``tenant/kind/id`` with each part
    percent-escaped (a ``/`` inside a part becomes ``%2F``), so the key is unambiguous."""
    return "/".join(quote(part, safe="") for part in (tenant, kind, ident))


class PaymentResult(NamedTuple):
    ok: bool
    reason: str | None = None  # why not, e.g. expired_card, declined
    reference: str | None = None  # the provider's reference of the payment


class PaymentProvider(Protocol):
    def charge(self, tenant: Tenant, amount: Decimal, key: str) -> PaymentResult:
        """Take ``amount`` in the tenant's currency; ``key`` identifies the attempt."""
        ...


class SimulatedProvider:
    """The built-in provider: the outcome is the tenant's ``credits.payment``
    (``ok`` succeeds; ``expired_card`` / ``declined`` fail with that reason).
    Keeps the attempts it saw (for tests), answering a repeated key as the first time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts: dict[str, PaymentResult] = {}

    def charge(self, tenant: Tenant, amount: Decimal, key: str) -> PaymentResult:
        with self._lock:
            earlier = self.attempts.get(key)
            if earlier is not None:
                return earlier
            payment = tenant.credits.payment if tenant.credits is not None else "declined"
            if amount <= 0:
                result = PaymentResult(False, "declined")
            elif payment == "ok":
                result = PaymentResult(True, None, f"sim:{key}")
            else:
                result = PaymentResult(False, payment)
            self.attempts[key] = result
            return result
