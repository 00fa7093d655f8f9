"""The ledger's errors: every one is a :class:`~policy.support.errors.PolicyError` (exit code 1)."""

from __future__ import annotations

from policy.support.errors import PolicyError

__all__ = ["LedgerError"]


class LedgerError(PolicyError):
    """A ledger operation refused or impossible: unknown tenant, bad amount, foreign billing,
    a database that cannot be reached. Nothing was written."""

    default_code = "ledger"
