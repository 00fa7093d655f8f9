"""Properties (hypothesis): the front end never crashes, money is exact and monotone,
evaluation is pure, and a run's balance is exactly accounted for."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import BASE_TENANT, make_tenant
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import policy
from policy.language import ast
from policy.language.parser import parse
from policy.pipeline import policy_findings
from policy.support.errors import PolicyError
from policy.support.resources import rules_dir

BUNDLED = "\n".join(p.read_text(encoding="utf-8") for p in sorted(rules_dir().glob("*.ccp")))
# Pieces worth inserting: keywords, names, country codes, punctuation, quotes, numbers.
TOKENS = sorted(
    {
        *BUNDLED.split(),
        "(",
        ")",
        ",",
        ":",
        "=",
        "{",
        "}",
        '"',
        "'",
        "#",
        "%",
        "\n",
        "not",
        "no",
        "deny",
        "unless",
        "if",
        "then",
        "when",
        "us",
        "ZZ",
        "99999999999999999999",
        "-1",
        "100%",
    }
)

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated_rules(draw: st.DrawFn) -> str:
    """The bundled rules with a few characters or tokens deleted, inserted or replaced."""
    text = BUNDLED
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        kind = draw(
            st.sampled_from(
                ["delete", "insert-char", "insert-token", "replace-token", "swap-lines"]
            )
        )
        if kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
        elif kind == "insert-char":
            text = text[:at] + draw(st.characters(exclude_categories=("Cs",))) + text[at:]
        elif kind == "insert-token":
            text = text[:at] + " " + draw(st.sampled_from(TOKENS)) + " " + text[at:]
        elif kind == "replace-token":
            words = text.split(" ")
            index = draw(st.integers(0, len(words) - 1))
            words[index] = draw(st.sampled_from(TOKENS))
            text = " ".join(words)
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


ANY_POLICY_TEXT = st.one_of(st.text(), mutated_rules())


# ---- (a) the front end takes any text --------------------------------------------------------


def _parse_or_policy_error(text: str) -> ast.Module | PolicyError:
    try:
        return parse(text, "fuzz.ccp")
    except PolicyError as exc:
        return exc


@SETTINGS
@given(ANY_POLICY_TEXT)
def test_parse_any_text_gives_a_module_or_a_policy_error(text: str) -> None:
    result = _parse_or_policy_error(text)
    if isinstance(result, ast.Module):
        assert result.file == "fuzz.ccp"
        assert all(s.span.file == "fuzz.ccp" for s in result.statements)
    else:
        finding = result.finding
        assert finding.severity == "error"
        assert finding.location is not None and finding.location.file == "fuzz.ccp"
        assert finding.render().startswith("fuzz.ccp")


@SETTINGS
@given(st.text())
def test_parse_errors_point_inside_the_text(text: str) -> None:
    result = _parse_or_policy_error(text)
    if isinstance(result, PolicyError):
        location = result.finding.location
        assert location is not None
        lines = text.split("\n")  # lines as the grammar counts them
        assert 1 <= location.line <= len(lines)
        assert 1 <= location.column <= len(lines[location.line - 1]) + 1


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-policy")


@SETTINGS
@given(text=st.one_of(st.text(st.characters(exclude_categories=("Cs",))), mutated_rules()))
def test_pipeline_never_raises_anything_but_policy_error(fuzz_dir: Path, text: str) -> None:
    (fuzz_dir / "policy.ccp").write_text(text, encoding="utf-8")
    try:
        compiled, found = policy_findings(fuzz_dir)
    except PolicyError as exc:
        assert exc.findings
        return
    assert all(f.severity in ("error", "warning") for f in found)
    if compiled is None:
        assert any(f.is_error for f in found)
    else:
        assert not any(f.is_error for f in found)


def test_unmutated_rules_compile() -> None:
    """The mutation strategy starts from text that is itself a clean policy."""
    modules = parse(BUNDLED, "all.ccp")
    assert len(modules.statements) > 50


# ---- (b) the cost of a credits call ----------------------------------------------------------

PAYG_USER = {
    "upn": "pat@contoso.com",
    "usage_location": "US",
    "licenses": ["teams_phone", "pay_as_you_go_calling_plan", "communications_credits"],
}
DESTINATIONS = [
    "+12125551234",  # US
    "+14165550123",  # CA
    "+442071838750",  # GB fixed
    "+447400123456",  # GB mobile
    "+449098765432",  # GB premium rate (capped in the sample card)
    "+4930123456",  # DE
    "+4915112345678",  # DE mobile
    "+33142685300",  # FR
    "+61291234567",  # AU
    "+819012345678",  # JP mobile
    "+18005550100",  # North American toll-free
]
START = "2026-11-02T09:00:00-05:00"


@pytest.fixture(scope="module")
def payg_tenant() -> policy.Tenant:
    return make_tenant(
        users=[PAYG_USER], credits={"balance": "100000.00", "funding": "one_time", "payment": "ok"}
    )


def _call(
    to: str,
    duration: int | None,
    *,
    call_id: str = "x",
    user: str = "pat@contoso.com",
    context: str = "user",
    start: str = START,
) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": call_id,
        "direction": "outbound",
        "context": context,
        "to": to,
        "start": start,
    }
    if context != "call_queue":
        call["user"] = user
    if duration is not None:
        call["duration"] = duration
    return call


def _is_cents(amount: Decimal) -> bool:
    return isinstance(amount, Decimal) and amount.as_tuple().exponent == -2


@SETTINGS
@given(
    to=st.sampled_from(DESTINATIONS), duration=st.integers(0, 20000), longer=st.integers(0, 20000)
)
def test_credits_cost_is_exact_non_negative_and_monotone(
    engine: policy.Engine, payg_tenant: policy.Tenant, to: str, duration: int, longer: int
) -> None:
    short = engine.evaluate(_call(to, duration), payg_tenant)
    long = engine.evaluate(_call(to, duration + longer), payg_tenant)
    for decision in (short, long):
        assert decision.permitted, decision.denial
        assert decision.paid_by == "credits"
        assert decision.cost is not None
        assert _is_cents(decision.cost), repr(decision.cost)
        assert decision.cost >= 0
        assert decision.balance_after == Decimal("100000.00") - decision.cost
    assert short.billable_seconds == duration
    assert short.cost is not None and long.cost is not None
    assert short.cost <= long.cost


@pytest.mark.parametrize("to", DESTINATIONS)
def test_zero_seconds_cost_nothing(
    engine: policy.Engine, payg_tenant: policy.Tenant, to: str
) -> None:
    decision = engine.evaluate(_call(to, 0), payg_tenant)
    assert decision.cost == Decimal("0.00")
    assert str(decision.cost) == "0.00"


def test_costs_really_grow(engine: policy.Engine, payg_tenant: policy.Tenant) -> None:
    """Guard against a vacuous monotonicity property: long calls do cost money."""
    for to in DESTINATIONS:
        cost = engine.evaluate(_call(to, 3600), payg_tenant).cost
        assert cost is not None and cost > 0, to


# ---- (c) evaluate is pure --------------------------------------------------------------------

USERS = [
    PAYG_USER,
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
        "upn": "bruno@contoso.com",
        "usage_location": "DE",
        "licenses": [
            "teams_phone",
            "domestic_international_calling_plan",
            "communications_credits",
        ],
    },
    {
        "upn": "dana@contoso.com",
        "usage_location": "PR",
        "licenses": [
            "teams_phone",
            "domestic_calling_plan",
            "audio_conferencing",
            "audio_conferencing_us_ca_dial_out",
        ],
    },
]
UPNS = [u["upn"] for u in USERS]
MORE_DESTINATIONS = [*DESTINATIONS, "911", "112", "+19005550100", "+4930123457"]


@st.composite
def tenants(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(BASE_TENANT)
    data["users"] = copy.deepcopy(USERS)
    data["credits"] = {
        "balance": draw(
            st.sampled_from(["0.00", "0.05", "1.00", "5.00", "12.34", "50.00", "-0.50"])
        ),
        "funding": draw(st.sampled_from(["auto_recharge", "one_time"])),
        "recharge_below": draw(st.sampled_from(["1.00", "10.00"])),
        "recharge_amount": draw(st.sampled_from(["5.00", "25.00"])),
        "payment": draw(st.sampled_from(["ok", "ok", "declined", "expired_card"])),
    }
    data["usage"] = {
        "domestic_calling_plan:US:domestic": draw(st.sampled_from([0, 5990, 6000])),
        "domestic_international_calling_plan:DE:international": draw(
            st.sampled_from([0, 599, 600])
        ),
        "audio_conferencing:zone_a": draw(st.sampled_from([0, 110, 120])),
    }
    return data


@st.composite
def calls(draw: st.DrawFn, max_size: int = 12, authorizations: bool = True) -> list[dict[str, Any]]:
    """Outbound calls in order; with ``authorizations`` some have no duration."""
    durations = st.one_of(st.integers(0, 7200), st.integers(0, 20000))
    if authorizations:
        durations = st.one_of(st.none(), durations)
    out = []
    for index in range(draw(st.integers(1, max_size))):
        context = draw(st.sampled_from(["user", "user", "user", "meeting", "call_queue"]))
        duration = draw(durations)
        day = draw(st.sampled_from(["2026-11-02", "2026-11-30", "2026-12-01"]))
        out.append(
            _call(
                draw(st.sampled_from(MORE_DESTINATIONS)),
                duration,
                call_id=f"c{index}",
                user=draw(st.sampled_from(UPNS)),
                context=context,
                start=f"{day}T09:00:00-05:00",
            )
        )
    return out


def _snapshot(tenant: policy.Tenant) -> tuple[Any, ...]:
    return (tenant.credits, dict(tenant.usage), dict(tenant.users), tenant.admins)


@SETTINGS
@given(data=tenants(), batch=calls())
def test_evaluate_is_pure(
    engine: policy.Engine, data: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    tenant = policy.Tenant.from_dict(data)
    before = _snapshot(tenant)
    first = [engine.evaluate(call, tenant) for call in batch]
    second = [engine.evaluate(call, tenant) for call in reversed(batch)][::-1]
    assert first == second
    assert _snapshot(tenant) == before
    list(engine.run(batch, tenant))  # a run works on a copy, too
    assert _snapshot(tenant) == before
    assert [engine.evaluate(call, tenant) for call in batch] == first
    initial = Decimal(data["credits"]["balance"])
    for decision in first:  # nothing carried over: each starts from the tenant's balance
        if (
            decision.cost is not None
            and decision.cost > 0
            and not any(e.type == "recharge_succeeded" for e in decision.events)
        ):
            assert decision.balance_after == initial - decision.cost


# ---- (d) a run's balance is exactly accounted for --------------------------------------------


@SETTINGS
@given(data=tenants(), batch=calls(max_size=20, authorizations=False))
def test_run_balance_is_exactly_accounted_for(
    engine: policy.Engine, data: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    tenant = policy.Tenant.from_dict(data)
    decisions = list(engine.run(batch, tenant))
    assert [d.call for d in decisions] == [c["id"] for c in batch]
    initial = Decimal(data["credits"]["balance"])
    recharged = sum(
        (
            e.amount
            for d in decisions
            for e in d.events
            if e.type == "recharge_succeeded" and e.amount is not None
        ),
        Decimal(0),
    )
    spent = sum(
        (
            d.cost
            for d in decisions
            if d.cost is not None and (d.paid_by == "credits" or d.cost > 0)
        ),
        Decimal(0),
    )
    for decision in decisions:
        assert decision.balance_after is not None
        if decision.cost is not None:
            assert _is_cents(decision.cost) and decision.cost >= 0
            if not decision.permitted:
                assert decision.cost == 0
            if decision.paid_by == "free":
                assert decision.cost == 0
    assert decisions[-1].balance_after == initial + recharged - spent
    # step by step, too: each decision's balance follows from the one before
    balance = initial
    for decision in decisions:
        balance += sum(
            (
                e.amount
                for e in decision.events
                if e.type == "recharge_succeeded" and e.amount is not None
            ),
            Decimal(0),
        )
        if decision.cost is not None:
            balance -= decision.cost
        assert decision.balance_after == balance


def test_authorizations_account_for_the_recharges_they_report(engine: policy.Engine) -> None:
    tenant = make_tenant(
        users=[PAYG_USER],
        credits={
            "balance": "0.00",
            "funding": "auto_recharge",
            "recharge_below": "1.00",
            "recharge_amount": "5.00",
            "payment": "ok",
        },
    )
    batch = [
        _call("+12125551234", None, call_id="a1"),
        _call("+12125551234", None, call_id="a2"),
        _call("+12125551234", 60, call_id="c3"),
    ]
    decisions = list(engine.run(batch, tenant))
    recharged = sum(
        (
            e.amount
            for d in decisions
            for e in d.events
            if e.type == "recharge_succeeded" and e.amount is not None
        ),
        Decimal(0),
    )
    spent = sum((d.cost for d in decisions if d.cost is not None), Decimal(0))
    assert decisions[-1].balance_after == Decimal("0.00") + recharged - spent


@SETTINGS
@given(data=tenants(), batch=calls(max_size=8))
def test_repeated_call_ids_change_nothing(
    engine: policy.Engine, data: dict[str, Any], batch: list[dict[str, Any]]
) -> None:
    tenant = policy.Tenant.from_dict(data)
    once = list(engine.run(batch, tenant))
    twice = list(engine.run([*batch, *batch], tenant))
    assert twice[: len(batch)] == once
    assert twice[len(batch) :] == once


@SETTINGS
@given(
    balance=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000"), places=2),
    to=st.sampled_from(DESTINATIONS),
    duration=st.integers(1, 20000),
)
def test_credits_call_is_permitted_while_balance_is_positive(
    engine: policy.Engine, balance: Decimal, to: str, duration: int
) -> None:
    assume(balance > 0)
    tenant = make_tenant(
        users=[PAYG_USER], credits={"balance": str(balance), "funding": "one_time", "payment": "ok"}
    )
    decision = engine.evaluate(_call(to, duration), tenant)
    assert decision.permitted
    assert decision.cost is not None
    # charged in full: the balance may end below zero by at most this call's cost
    assert decision.balance_after == balance - decision.cost
    assert decision.balance_after >= -decision.cost
