"""Helpers shared by the ledger tests and their worker processes (importable under spawn)."""

from __future__ import annotations

import copy
import random
from datetime import datetime, timedelta, timezone
from typing import Any

import policy
from policy.ledger import Ledger

MONTH = "2026-03"
START = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

TENANT: dict[str, Any] = {
    "tenant": "contoso",
    "country": "US",
    "billing_country": "US",
    "currency": "USD",
    "credits": {
        "balance": "20.00",
        "funding": "auto_recharge",
        "recharge_below": "10.00",
        "recharge_amount": "25.00",
        "payment": "ok",
    },
    "admins": [
        {"email": "ann@contoso.com", "roles": ["billing_admin", "teams_admin"]},
        {"email": "bob@contoso.com", "roles": ["global_admin"]},
        {"email": "carl@contoso.com", "roles": ["reports_reader"]},
    ],
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
        },
        {
            "upn": "pat@contoso.com",
            "usage_location": "US",
            "licenses": ["teams_phone", "pay_as_you_go_calling_plan", "communications_credits"],
        },
    ],
    "usage": {"domestic_calling_plan:US:domestic": 2950},
}

DESTINATIONS = ["+442071838750", "+33142685300", "+4930123456", "+12125551234", "+14165550123"]


def tenant_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(TENANT)
    for key, value in changes.items():
        if key == "credits" and isinstance(value, dict):
            data["credits"].update(value)
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def make_tenant(**changes: Any) -> policy.Tenant:
    return policy.Tenant.from_dict(tenant_data(**changes))


def make_call(
    call_id: str,
    *,
    to: str = "+442071838750",
    duration: int | None = 420,
    user: str = "alice@contoso.com",
    start: datetime = START,
) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": call_id,
        "direction": "outbound",
        "context": "user",
        "user": user,
        "to": to,
        "start": start.isoformat(),
    }
    if duration is not None:
        call["duration"] = duration
    return call


def random_calls(prefix: str, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    calls = []
    for i in range(count):
        calls.append(
            make_call(
                f"{prefix}{i}",
                to=rng.choice(DESTINATIONS),
                duration=rng.randint(30, 1800),
                user=rng.choice(["alice@contoso.com", "pat@contoso.com"]),
                start=START + timedelta(minutes=i),
            )
        )
    return calls


def worker_charge(
    url: str, tenant: dict[str, Any], calls: list[dict[str, Any]], retry_every: int
) -> list[tuple[str, dict[str, Any]]]:
    """Charge ``calls`` (re-submitting every ``retry_every``-th at once); return what each
    submission answered."""
    engine = policy.load()
    out = []
    with Ledger(url, engine=engine, tenant=policy.Tenant.from_dict(tenant)) as ledger:
        for n, call in enumerate(calls):
            out.append((call["id"], ledger.charge(call).to_dict()))
            if retry_every and n % retry_every == 0:
                out.append((call["id"], ledger.charge(call).to_dict()))
    return out


def worker_crash(url: str, tenant: dict[str, Any], calls: list[dict[str, Any]], ready: Any) -> None:
    """Charge ``calls`` in order, for ever from the start again (the parent kills us)."""
    engine = policy.load()
    with Ledger(url, engine=engine, tenant=policy.Tenant.from_dict(tenant)) as ledger:
        ledger.charge(calls[0])
        ready.set()
        while True:
            for call in calls:
                ledger.charge(call)


class FileProvider:
    """A payment provider whose records outlive the process (a JSON file, locked): like a
    real one, it answers a repeated idempotency key as the first time. With ``hang_file``,
    it writes that file after taking the money and then never returns (to be killed)."""

    def __init__(self, path: str, hang_file: str | None = None) -> None:
        self.path = path
        self.hang_file = hang_file

    def charges(self) -> dict[str, str]:
        import json
        import os

        if not os.path.exists(self.path):
            return {}
        with open(self.path) as f:
            records: dict[str, str] = json.load(f)
            return records

    def charge(self, tenant: policy.Tenant, amount: Any, key: str) -> Any:
        import fcntl
        import json
        import os
        import time

        from policy.ledger import PaymentResult

        with open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self.charges()
            if key not in records:
                records[key] = str(amount)
                with open(self.path + ".tmp", "w") as f:
                    json.dump(records, f)
                os.replace(self.path + ".tmp", self.path)
        if self.hang_file is not None:
            with open(self.hang_file, "w") as f:
                f.write("paid")
            while True:
                time.sleep(60)
        return PaymentResult(True, None, f"file:{key}")


def worker_pay_and_hang(
    url: str, tenant: dict[str, Any], call: dict[str, Any], path: str, hang_file: str
) -> None:
    """Charge ``call`` with a provider that takes the money, then hangs (the parent kills us
    between the provider's answer and the ledger's commit)."""
    provider = FileProvider(path, hang_file)
    with Ledger(url, tenant=policy.Tenant.from_dict(tenant), provider=provider) as ledger:
        ledger.charge(call)


def worker_recover(url: str, tenant: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """Recover the tenant's pending purchases in a fresh process."""
    provider = FileProvider(path)
    with Ledger(url, tenant=policy.Tenant.from_dict(tenant), provider=provider) as ledger:
        return ledger.recover(older_than=0)
