"""Helpers shared by the tests (import as ``from helpers import ...``; a module name of
its own, so it never collides with another folder's conftest)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import policy

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

BASE_TENANT: dict[str, Any] = {
    "tenant": "contoso",
    "country": "US",
    "billing_country": "US",
    "currency": "USD",
    "credits": {
        "balance": "50.00",
        "funding": "auto_recharge",
        "recharge_below": "10.00",
        "recharge_amount": "50.00",
        "payment": "ok",
    },
    "admins": [{"email": "ann@contoso.com", "roles": ["billing_admin", "teams_admin"]}],
    "users": [
        {
            "upn": "alice@contoso.com",
            "usage_location": "US",
            "licenses": [
                "teams_phone",
                "domestic_calling_plan",
                "audio_conferencing",
                "communications_credits",
            ],
        }
    ],
}


def make_tenant(**changes: Any) -> policy.Tenant:
    data = copy.deepcopy(BASE_TENANT)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return policy.Tenant.from_dict(data)
