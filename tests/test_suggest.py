"""One "did you mean": the same matching and words wherever a name is unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

import policy
from policy.support.suggest import closest, did_you_mean, in_parentheses


def test_closest_is_case_blind_and_keeps_the_candidates_spelling() -> None:
    assert closest("Billing_Admin", ["billing_admin", "global_admin"]) == "billing_admin"
    assert closest("BALANCE", ["balance"]) == "balance"


def test_nothing_close_is_no_hint() -> None:
    assert closest("zzz", ["billing_admin"]) is None
    assert did_you_mean("zzz", ["billing_admin"]) is None
    assert in_parentheses("zzz", ["billing_admin"]) == ""


def test_the_words_are_one_shape() -> None:
    assert did_you_mean("biling_admin", ["billing_admin"]) == "did you mean 'billing_admin'?"
    assert in_parentheses("ballance", ["balance"]) == " (did you mean 'balance'?)"


def _message(exc: pytest.ExceptionInfo[policy.PolicyError]) -> str:
    return exc.value.render()


def test_policy_tenant_and_rate_card_say_it_alike(tmp_path: Path) -> None:
    """The checker, the tenant schema and the rate card suggest with the same words."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "p.ccp").write_text(
        "role billing_admin\nnotify balance_zero to biling_admin\n", encoding="utf-8"
    )
    with pytest.raises(policy.PolicyError, match="did you mean 'billing_admin'") as bad_rule:
        policy.load(rules)
    assert "(did you mean 'billing_admin'?)" in _message(bad_rule)

    with pytest.raises(policy.SchemaError, match="did you mean 'billing_country'") as bad_field:
        policy.Tenant.from_dict(
            {"tenant": "t", "country": "US", "currency": "USD", "users": [], "billing_cuntry": "US"}
        )
    assert "(did you mean 'billing_country'?)" in _message(bad_field)

    card = tmp_path / "rates.csv"
    card.write_text(
        "prefix,destination,number_typ,origin,connect_fee,rate,rate_unit,increment,from_second\n"
        "44,UK,,,0,0.02,60,60,0\n",
        encoding="utf-8",
    )
    with pytest.raises(policy.PolicyError, match="did you mean 'number_type'") as bad_column:
        policy.RateCard.from_file(card)
    assert "(did you mean 'number_type'?)" in _message(bad_column)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("", "", 0), ("abc", "abc", 0), ("fry", "fri", 1), ("ab", "ba", 1), ("abc", "", 3),
     ("biling_admin", "billing_admin", 1), ("colour", "country", 4)],
)  # fmt: skip
def test_distance(a: str, b: str, expected: int) -> None:
    from policy.support.suggest import distance

    assert distance(a, b, 10) == expected
    assert distance(a, b, expected - 1) > expected - 1 if expected else True


def test_typos_found_and_strangers_not() -> None:
    assert closest("fry", ["mon", "fri", "sat"]) == "fri"
    assert closest("rr", ["r"]) == "r"
    assert closest("XX", ["AX", "BX"]) is None
    assert closest("colour", ["tenant", "country", "currency"]) is None
    assert closest("domestc", ["international", "domestic"]) == "domestic"
