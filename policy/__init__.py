"""ccpolicy — a policy engine for prepaid telephone Communications Credits.

Is this call permitted, what does it cost, who pays, and who must be told?

    import policy
    engine = policy.load()                          # the bundled Teams-style rules
    tenant = policy.Tenant.from_file("tenant.yaml")
    decision = engine.evaluate(call, tenant)         # pure: the tenant is not changed
    decision.permitted, decision.paid_by, decision.cost, decision.to_dict()
"""

from __future__ import annotations

from .call import Call
from .decision import Decision, Event, Notice, TraceEntry
from .errors import (
    CheckError,
    EvaluationError,
    Finding,
    InputError,
    PolicyError,
    PolicySyntaxError,
    SchemaError,
    UsageError,
)
from .evaluate import Engine
from .load import load, load_policy
from .ratecard import RateCard
from .tenant import Tenant

__all__ = [
    "Call",
    "CheckError",
    "Decision",
    "Engine",
    "EvaluationError",
    "Event",
    "Finding",
    "InputError",
    "Ledger",
    "Notice",
    "PolicyError",
    "PolicySyntaxError",
    "RateCard",
    "SchemaError",
    "Tenant",
    "TraceEntry",
    "UsageError",
    "load",
    "load_policy",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``policy.Ledger`` is imported on first use, so ``import policy`` needs no SQLAlchemy."""
    if name == "Ledger":
        from .ledger import Ledger

        return Ledger
    raise AttributeError(f"module 'policy' has no attribute {name!r}")
