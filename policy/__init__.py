"""ccpolicy — a policy engine for prepaid telephone Communications Credits.

Is this call permitted, what does it cost, who pays, and who must be told?

    import policy
    engine = policy.load()                          # the bundled Teams-style rules
    tenant = policy.Tenant.from_file("tenant.yaml")
    decision = engine.evaluate(call, tenant)         # pure: the tenant is not changed
    decision.permitted, decision.paid_by, decision.cost, decision.to_dict()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from policy.support.errors import (
    CheckError,
    EvaluationError,
    Finding,
    InputError,
    PolicyError,
    PolicySyntaxError,
    SchemaError,
    UsageError,
)

if TYPE_CHECKING:
    from policy.data.call import Call
    from policy.data.tenant import Tenant
    from policy.engine.binding import State
    from policy.engine.decision import Decision, Event, Notice, TraceEntry
    from policy.engine.evaluate import Engine, Observation
    from policy.ledger import Ledger
    from policy.pipeline import load, load_policy
    from policy.pricing.ratecard import RateCard

# The rest of the API is imported on first use, so that `ccpolicy --help` (and any
# `import policy.x`) does not pay for the engine, phone numbers and rate cards.
_LAZY = {
    "Call": "data.call",
    "Decision": "engine.decision",
    "Event": "engine.decision",
    "Notice": "engine.decision",
    "TraceEntry": "engine.decision",
    "Engine": "engine.evaluate",
    "Observation": "engine.evaluate",
    "State": "engine.binding",
    "Ledger": "ledger",  # needs SQLAlchemy: only when used
    "load": "pipeline",
    "open_calls": "rating.cdr",
    "load_policy": "pipeline",
    "RateCard": "pricing.ratecard",
    "Tenant": "data.tenant",
}

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
    "Observation",
    "PolicyError",
    "PolicySyntaxError",
    "RateCard",
    "SchemaError",
    "State",
    "Tenant",
    "TraceEntry",
    "UsageError",
    "load",
    "load_policy",
    "open_calls",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'policy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    # The API and nothing that leaks (typing helpers, submodules imported on the way).
    return sorted([*__all__, "__version__"])
