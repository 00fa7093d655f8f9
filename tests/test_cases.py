"""Golden cases as data: every ``tests/cases/*.yaml`` file, one test per case.

A case file holds ``given`` (a tenant, optionally ``rates`` rows and ``rules``) and
``cases``: each a list of ``calls`` decided in order (``ccpolicy eval`` semantics) and
``expect``, one entry per call with any subset of the decision's fields. ``cost`` may
be written as a plain amount string; ``events`` and ``notify`` are compared entry by
entry as subsets; ``trace_includes`` lists rule names that must appear in the trace as
matched. A case may instead expect ``error: <code>`` (a PolicyError's finding code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import policy
from policy.pricing.ratecard import RateCard

CASES = Path(__file__).parent / "cases"


def _load() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            params.append(
                pytest.param(data.get("given", {}), case, id=f"{path.stem}:{case['name']}")
            )
    return params


def _subset(expected: Any, actual: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: field {key!r} missing from {actual!r}"
            _subset(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(expected) == len(actual), f"{where}: expected {expected!r}, got {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _subset(e, a, f"{where}[{i}]")
    else:
        assert expected == actual, f"{where}: expected {expected!r}, got {actual!r}"


_engines: dict[str, policy.Engine] = {}


def _engine(given: dict[str, Any]) -> policy.Engine:
    key = repr((given.get("rules"), given.get("rates")))
    if key not in _engines:
        rules = given.get("rules")
        rates = given.get("rates")
        card = (
            RateCard.from_rows([{k: str(v) for k, v in row.items()} for row in rates])
            if rates
            else None
        )
        base = Path(__file__).parent.parent
        _engines[key] = policy.load(base / rules if rules else None, rates=card)
    return _engines[key]


@pytest.mark.parametrize(("given", "case"), _load())
def test_case(given: dict[str, Any], case: dict[str, Any]) -> None:
    tenant_data = {**given["tenant"], **case.get("tenant", {})}
    if "error" in case:
        with pytest.raises(policy.PolicyError) as info:
            engine = _engine(given)
            tenant = policy.Tenant.from_dict(tenant_data)
            list(engine.run(case["calls"], tenant))
        assert info.value.finding.code == case["error"], info.value.render()
        return
    engine = _engine(given)
    tenant = policy.Tenant.from_dict(tenant_data)
    decisions = [d.to_dict() for d in engine.run(case["calls"], tenant)]
    assert len(decisions) == len(case["expect"]), "one expectation per call"
    for decision, expected in zip(decisions, case["expect"], strict=True):
        expected = dict(expected)
        if isinstance(expected.get("cost"), str):
            expected["cost"] = {"amount": expected["cost"]}
        includes = expected.pop("trace_includes", [])
        _subset(expected, decision, decision["call"])
        matched = {t["rule"] for t in decision["trace"] if t["matched"]}
        for rule in includes:
            assert rule in matched, f"{decision['call']}: {rule} not matched in trace"
