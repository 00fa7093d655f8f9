"""Online-charging sessions on both backends: grants, holds every call sees, settlement
through the charge path, idempotency, expiry, recharges and bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from ledger_support import MONTH, make_call, make_tenant, tenant_data

import policy
from policy.cli import main
from policy.ledger import Ledger, LedgerError
from policy.support.resources import schemas_dir

UK = "+442071838750"  # 0.0004/s on the bundled card: 300 s = 0.12, 420 s = 0.17
US = "+12125551234"  # domestic for alice (pool: 50 minutes left), credits for pat
ONE_TIME = {"balance": "1.00", "funding": "one_time"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


def open_ledger(url: str, engine: policy.Engine, **changes: Any) -> Ledger:
    settings = {k: changes.pop(k) for k in ("clock", "quota", "grace") if k in changes}
    ledger = Ledger(url, engine=engine, tenant=make_tenant(**changes), **settings)
    ledger.init(month=MONTH)
    return ledger


def pat(call_id: str, to: str = UK) -> dict[str, Any]:
    return make_call(call_id, to=to, duration=None, user="pat@contoso.com")


def counts(url: str) -> dict[str, int]:
    from policy.ledger.store import connect, metadata

    db = connect(url, create=False)
    try:
        with db.connect() as conn:
            return {
                name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for name, t in metadata.tables.items()
            }
    finally:
        db.dispose()


def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    return (
        ledger.balance().to_dict(),
        ledger.sessions(),
        ledger.history(),
        ledger.pools(MONTH),
        counts(ledger.url),
    )


# ---- grants and holds ------------------------------------------------------------------


def test_begin_grants_the_quota_and_holds_what_it_costs(db_url: str, engine: policy.Engine) -> None:
    clock = Clock()
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=clock) as ledger:
        before = ledger.authorize(pat("probe")).max_duration
        grant = ledger.begin(pat("s1"))
        record = grant.to_dict()
        assert record["permitted"] is True and record["paid_by"] == "credits"
        assert record["grant"] == {
            "seconds": 300,
            "final": False,
            "valid_until": "2026-03-02T09:05:00Z",
        }
        assert record["max_duration"] == 300 and record["balance_after"] == "0.88"
        # the hold is not a debit, but every other call sees it
        assert ledger.balance().balance == Decimal("1.00")
        assert ledger.authorize(pat("probe")).max_duration == before - 300
        [row] = ledger.sessions()
        assert row["call"] == "s1" and row["granted"] == 300 and row["held"]["amount"] == "0.12"
        assert ledger.verify() == []


def test_update_extends_the_grant_and_end_charges_as_charge_would(
    db_url: str, engine: policy.Engine
) -> None:
    tenant = make_tenant(credits=ONE_TIME)
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=Clock()) as ledger:
        ledger.begin(pat("s1"))
        grant = ledger.update("s1", used=290)
        assert grant.seconds == 300 and grant.decision.max_duration == 590
        assert ledger.update("s1", used=290) == grant  # a repeated used: the stored grant
        decision = ledger.end("s1", used=415)
        expected = engine.evaluate({**pat("s1"), "duration": 415}, tenant)
        assert decision.cost == expected.cost == Decimal("0.17")
        assert decision.billable_seconds == expected.billable_seconds == 415
        assert decision.paid_by == expected.paid_by
        assert ledger.balance().balance == Decimal("0.83")
        assert ledger.sessions() == []
        assert ledger.end("s1", used=415) == decision  # idempotent
        assert ledger.end("s1", used=500) == decision  # a late repeat changes nothing
        assert [h["kind"] for h in ledger.history()] == ["initial", "charge"]
        assert ledger.verify() == []


def test_end_bills_no_more_than_the_grant(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=Clock()) as ledger:
        ledger.begin(pat("s1"))
        decision = ledger.end("s1", used=900)  # a late BYE: billed at T = 300
        assert decision.billable_seconds == 300 and decision.cost == Decimal("0.12")


def test_end_bills_at_least_the_last_reported_used(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=Clock()) as ledger:
        ledger.begin(pat("s1"))
        ledger.update("s1", used=200)
        with pytest.raises(LedgerError, match="less than the 200 s"):
            ledger.end("s1", used=100)
        assert ledger.end("s1", used=200).billable_seconds == 200


def test_funds_cap_the_grant_and_make_it_final(db_url: str, engine: policy.Engine) -> None:
    small = {"balance": "0.10", "funding": "one_time"}
    with open_ledger(db_url, engine, credits=small, clock=Clock()) as ledger:
        limit = ledger.authorize(pat("probe")).max_duration
        assert limit is not None and 0 < limit < 300
        grant = ledger.begin(pat("s1"))
        assert grant.seconds == limit and grant.final is True
        second = ledger.begin(pat("s2"))  # nothing left for anyone else
        assert not second.permitted and second.decision.denial == "balance_exhausted"
        assert second.to_dict()["grant"] == {"seconds": 0, "final": True, "valid_until": None}
        assert [s["call"] for s in ledger.sessions()] == ["s1"]  # a denial stores nothing
        with pytest.raises(LedgerError, match="no session 's2'") as info:
            ledger.end("s2", used=10)
        assert info.value.finding.code == "unknown-session"
        again = ledger.update("s1", used=limit)  # nothing more is affordable
        assert again.seconds == 0 and again.final is True
        decision = ledger.end("s1", used=limit)
        assert ledger.balance().balance is not None and ledger.balance().balance >= 0
        assert decision.cost is not None and decision.cost <= Decimal("0.10")


def test_simultaneous_sessions_never_overspend(db_url: str, engine: policy.Engine) -> None:
    small = {"balance": "0.30", "funding": "one_time"}
    with open_ledger(db_url, engine, credits=small, clock=Clock()) as ledger:
        grants = [ledger.begin(pat(f"s{i}")) for i in range(5)]
        granted = [g for g in grants if g.permitted]
        assert 1 < len(granted) < 5
        for g in granted:  # each respects its grant and uses all of it
            ledger.end(g.decision.call, used=g.seconds or 0)
        balance = ledger.balance().balance
        assert balance is not None and Decimal(0) <= balance < Decimal("0.30")
        assert ledger.verify() == []


def test_pool_minutes_are_held_in_whole_minutes(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, clock=Clock(), quota=90) as ledger:
        alice = make_call("p1", to=US, duration=None)
        before = ledger.authorize(make_call("probe", to=US, duration=None)).max_duration
        grant = ledger.begin(alice)
        assert grant.decision.pool == "domestic_calling_plan:US:domestic" and grant.seconds == 90
        [row] = ledger.sessions()
        assert row["pool"] == grant.decision.pool and row["minutes"] == 2
        after = ledger.authorize(make_call("probe", to=US, duration=None)).max_duration
        assert before is not None and after is not None and before - after == 120
        decision = ledger.end("p1", used=61)
        assert decision.paid_by == "plan" and decision.billable_seconds == 61
        used = {p["pool"]: p["used"] for p in ledger.pools(MONTH)}
        assert used["domestic_calling_plan:US:domestic"] == 2952


def test_free_calls_get_unlimited_grants(db_url: str, engine: policy.Engine) -> None:
    with open_ledger(db_url, engine, clock=Clock()) as ledger:
        grant = ledger.begin(make_call("e1", to="911", duration=None))
        assert grant.permitted and grant.decision.paid_by == "free"
        assert grant.seconds is None and grant.final is False
        assert ledger.sessions()[0]["held"]["amount"] == "0"
        assert ledger.end("e1", used=700).billable_seconds == 700


# ---- expiry ------------------------------------------------------------------------------


def test_abandoned_sessions_are_settled_at_every_granted_second(
    db_url: str, engine: policy.Engine
) -> None:
    clock = Clock()
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=clock, quota=300) as ledger:
        ledger.begin(pat("s1"))
        clock.advance(100)
        ledger.update("s1", used=100)  # T = 400, valid for 300 s more
        clock.advance(300 + 299)
        assert ledger.expire() == []  # grace (= quota) not over yet
        clock.advance(1)
        [decision] = ledger.expire()
        assert decision.billable_seconds == 400
        history = ledger.history()
        assert history[-1]["kind"] == "charge" and "expired" in (history[-1]["note"] or "")
        assert ledger.sessions() == []
        assert ledger.end("s1", used=120) == decision  # a late end: the expired decision
        with pytest.raises(LedgerError, match="has ended"):
            ledger.update("s1", used=130)
        assert ledger.expire() == []
        assert ledger.verify() == []


def test_any_later_write_settles_expired_sessions(db_url: str, engine: policy.Engine) -> None:
    clock = Clock()
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=clock, grace=10) as ledger:
        ledger.begin(pat("s1"))
        clock.advance(311)
        assert ledger.sessions()[0]["overdue"] is True
        ledger.begin(pat("s2"))
        assert [s["call"] for s in ledger.sessions()] == ["s2"]
        assert ledger.balance().balance == Decimal("0.88")


# ---- recharges ---------------------------------------------------------------------------


def test_a_hold_below_the_trigger_recharges_once(db_url: str, engine: policy.Engine) -> None:
    credits = {"balance": "10.05", "recharge_below": "10.00", "recharge_amount": "25.00"}
    with open_ledger(db_url, engine, credits=credits, clock=Clock()) as ledger:
        grant = ledger.begin(pat("s1"))  # 10.05 − 0.12 < 10.00: recharge now
        assert [e.type for e in grant.decision.events] == ["recharge_succeeded"]
        assert ledger.balance().balance == Decimal("35.05")
        ledger.update("s1", used=300)
        ledger.end("s1", used=500)
        kinds = [h["kind"] for h in ledger.history()]
        assert kinds.count("recharge") == 1
        assert ledger.verify() == []


def test_a_failed_recharge_makes_the_grant_final(db_url: str, engine: policy.Engine) -> None:
    credits = {"balance": "0.10", "recharge_below": "10.00", "payment": "declined"}
    with open_ledger(db_url, engine, credits=credits, clock=Clock()) as ledger:
        grant = ledger.begin(pat("s1"))
        assert grant.permitted and grant.final is True
        assert [e.type for e in grant.decision.events] == ["recharge_failed"]
        assert ledger.balance().failing is True
        second = ledger.begin(pat("s2"))  # the episode goes on: said once
        assert not second.permitted and second.decision.events == ()
        assert [h["kind"] for h in ledger.history()] == ["initial"]


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("used", [-1, 1.5, "10", True, None, 10**9])
def test_bad_used_is_refused_and_changes_nothing(
    db_url: str, engine: policy.Engine, used: Any
) -> None:
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=Clock()) as ledger:
        ledger.begin(pat("s1"))
        ledger.update("s1", used=50)
        before = snapshot(ledger)
        for action in (ledger.update, ledger.end):
            with pytest.raises(policy.PolicyError):
                action("s1", used=used)
        with pytest.raises(LedgerError, match="less than"):
            ledger.update("s1", used=49)
        assert snapshot(ledger) == before


def test_conflicting_requests_are_refused_and_change_nothing(
    db_url: str, engine: policy.Engine
) -> None:
    with open_ledger(db_url, engine, credits=ONE_TIME, clock=Clock()) as ledger:
        first = ledger.begin(pat("s1"))
        before = snapshot(ledger)
        assert ledger.begin(pat("s1")) == first  # the same begin: its grant
        cases: list[tuple[Any, str]] = [
            (lambda: ledger.begin(pat("s1", to=US)), "different call"),
            (lambda: ledger.begin({**pat("s2"), "duration": 60}), "has a duration"),
            (lambda: ledger.charge({**pat("s1"), "duration": 60}), "has a session"),
            (lambda: ledger.update("nope", used=1), "no session 'nope'"),
            (lambda: ledger.end("nope", used=1), "no session 'nope'"),
            (lambda: ledger.begin({**pat("s3"), "duration": 10**6}), "has a duration"),
        ]
        for action, text in cases:
            with pytest.raises(policy.PolicyError, match=text):
                action()
        assert snapshot(ledger) == before
        ledger.charge({**pat("c1"), "duration": 30})
        with pytest.raises(LedgerError, match="already charged"):
            ledger.begin(pat("c1"))
        with pytest.raises(LedgerError, match="longer than the longest call"):
            ledger.charge({**pat("c2"), "duration": 86401})


def test_settings_are_checked() -> None:
    for bad in ({"quota": 0}, {"quota": 1.5}, {"grace": -1}, {"max_seconds": 0}):
        with pytest.raises(LedgerError):
            Ledger("sqlite:///unused.db", engine=policy.load(), **bad)
    ledger = Ledger("sqlite:///unused.db", engine=policy.load(), quota=60)
    assert (ledger.quota, ledger.grace, ledger.max_seconds) == (60, 60, 86400)


# ---- the command line -------------------------------------------------------------------


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((schemas_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_cli_sessions(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text(yaml.safe_dump(tenant_data(credits=ONE_TIME)))
    calls = tmp_path / "calls.yaml"
    calls.write_text(yaml.safe_dump([pat("s1"), pat("s2")]))
    finished = tmp_path / "finished.yaml"
    finished.write_text(yaml.safe_dump([make_call("f1")]))
    common = ["--db", db_url, "--tenant", str(tenant)]

    def run(*argv: str) -> tuple[int, list[Any], str]:
        code = main(["ledger", *argv])
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    grants, decisions, rows = _validator("grant"), _validator("decision"), _validator("session")
    assert run("init", *common, "--month", MONTH)[0] == 0
    code, out, _ = run("begin", *common, "--calls", str(calls), "--quota", "120")
    assert code == 0 and [g["grant"]["seconds"] for g in out] == [120, 120]
    for record in out:
        grants.validate(record)
    code, out, _ = run("update", *common, "s1", "100", "--quota", "120")
    assert code == 0 and out[0]["grant"]["seconds"] == 120 and out[0]["max_duration"] == 220
    grants.validate(out[0])
    code, out, _ = run("sessions", *common)
    assert code == 0 and [r["call"] for r in out] == ["s1", "s2"]
    for record in out:
        rows.validate(record)
    code, out, _ = run("end", *common, "s1", "150")
    assert code == 0 and out[0]["billable_seconds"] == 150
    decisions.validate(out[0])
    code, out, _ = run("expire", *common)
    assert code == 0 and out == []
    for argv, text in (
        (("end", *common, "nope", "10"), "no session 'nope'"),
        (("update", *common, "s2", "-5"), "whole number"),
        (("update", *common, "s2", "1.5"), "whole number"),
        (("begin", *common, "--calls", str(finished)), "has a duration"),
    ):
        code, out, err = run(*argv)
        assert code == 1 and out == [] and text in err and "Traceback" not in err
    assert main(["ledger", "sessions", *common, "--format", "text"]) == 0
    assert capsys.readouterr().out.startswith("s2: age ")
