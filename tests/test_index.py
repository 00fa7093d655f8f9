"""The scenario index: routing through it is routing by a full scan, trace included.

Random policies (every kind of condition, nested ``and``/``or``/``not``, guards, the
bundled scenarios after them) meet random situations — facts drawn freely, not only
those real calls produce, so the index is checked against every atom's own test — and
the indexed route must equal the one a scan in policy order finds, field by field and
entry by entry. Then whole runs (``eval`` JSON and text, ``rate`` CSV) must print the same
bytes with the index as with a scan of every scenario.
"""

from __future__ import annotations

import io
import operator
import pickle
import random
import shutil
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import policy
from policy.cli import main
from policy.data.numbers import NumberInfo
from policy.engine.compile import CompiledPolicy
from policy.engine.decision import TraceEntry
from policy.engine.evaluate import Engine
from policy.engine.facts import Facts
from policy.engine.index import ScenarioIndex
from policy.engine.route import Route
from policy.engine.trace import Trace
from policy.language.vocabulary import CONTEXTS, DESTINATION_KINDS, NUMBER_CLASSES, NUMBER_TYPES
from policy.support.resources import rules_dir

DATA = Path(__file__).parent / "data" / "rate"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

COUNTRIES = ["US", "CA", "PR", "GB", "DE", "FR", "JP", "BR", "IN", "AU", "ZA", "MX", "001"]
LICENCES = [
    "teams_phone",
    "audio_conferencing",
    "audio_conferencing_us_ca_dial_out",
    "communications_credits",
    "domestic_calling_plan",
    "pay_as_you_go_calling_plan",
]
PLANS = [
    "domestic_international_calling_plan",
    "domestic_calling_plan",
    "domestic_calling_plan_120",
    "pay_as_you_go_calling_plan",
]
ZONES = ["zone_a", "us_and_canada", "premium_rate_unsupported", "north_america"]
POOLS = ["domestic", "international", "zone_a"]
DENIALS = ["number_not_supported", "toll_free_foreign_origin", "no_calling_plan"]


# ---- random policies -------------------------------------------------------------------


def _region(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(ZONES)
    return " ".join(rng.sample(COUNTRIES[:-1], rng.randint(1, 4)))


def _atom(rng: random.Random, meeting: bool) -> str:
    subject = "organizer" if meeting and rng.random() < 0.3 else "user"
    no = rng.choice(["", "not "])
    choices = [
        lambda: rng.choice(["inbound", "outbound"]),
        lambda: f"from {rng.choice(CONTEXTS)}",
        lambda: f"to is {no}{rng.choice(NUMBER_CLASSES)}",
        lambda: f"destination is {no}{rng.choice(DESTINATION_KINDS)}",
        lambda: f"destination {no}in {_region(rng)}",
        lambda: f"caller {no}in {_region(rng)}",
        lambda: "caller shares calling code",
        lambda: f"{subject} has {'no ' if no else ''}{rng.choice(LICENCES + PLANS)}",
        lambda: f"{subject} has {'no ' if no else ''}calling plan",
        lambda: f"{subject}'s plan is {no}{rng.choice(PLANS)}",
        lambda: f"credits are {no}set up",
        lambda: f"balance is {no}positive",
        lambda: f"pool {rng.choice(POOLS)} has {'no ' if no else ''}minutes left",
    ]
    return rng.choice(choices)()


def _condition(rng: random.Random, meeting: bool, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        return _atom(rng, meeting)
    if roll < 0.55:
        return f"not ({_condition(rng, meeting, depth + 1)})"
    items = [_condition(rng, meeting, depth + 1) for _ in range(rng.randint(2, 3))]
    return "(" + rng.choice([" and ", " or "]).join(items) + ")"


def _scenario(rng: random.Random, i: int) -> str:
    meeting = rng.random() < 0.2
    parts = ["from meeting"] if meeting else []
    if rng.random() < 0.7:
        parts.append(rng.choice(["inbound", "outbound"]))
    if not meeting and rng.random() < 0.5:
        parts.append(f"from {rng.choice(CONTEXTS)}")
    parts += [_condition(rng, meeting) for _ in range(rng.randint(1, 4))]
    guards = ""
    for _ in range(rng.choice([0, 0, 1, 2])):
        word = rng.choice(["unless", "if"])
        guards += f"\n    deny {rng.choice(DENIALS)} {word} {_condition(rng, meeting, 1)}"
    payers = ["user", "tenant", *(["organizer"] if meeting else [])]
    then = rng.choice(
        [
            "then free",
            "then plan",
            "then conferencing",
            f"then credits of {rng.choice(payers)}",
            f"deny {rng.choice(DENIALS)}",
            f"then pool {rng.choice(POOLS)}",
            f"then pool {rng.choice(POOLS)}, spill over to credits of {rng.choice(payers)}",
        ]
    )
    when = " and ".join(parts)
    return f'scenario random_{i} "Random rule {i}":\n    when {when}{guards}\n    {then}\n'


def random_rules(folder: Path, seed: int, n: int) -> Path:
    """The bundled catalogue and scenarios with ``n`` random scenarios between them."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    bundled = Path(rules_dir())
    shutil.copy(bundled / "catalog.ccp", folder / "a_catalog.ccp")
    shutil.copy(bundled / "scenarios.ccp", folder / "z_scenarios.ccp")
    shutil.copy(bundled / "rates.csv", folder / "rates.csv")
    text = "\n".join(_scenario(rng, i) for i in range(n))
    (folder / "m_random.ccp").write_text(text, encoding="utf-8")
    return folder


def random_facts(rng: random.Random) -> Facts:
    number_type = rng.choice([*NUMBER_TYPES, "emergency", "short_code"])
    emergency = number_type == "emergency" or rng.random() < 0.05
    short = emergency or number_type == "short_code" or rng.random() < 0.05
    number = NumberInfo(
        "+10000000000",
        "10000000000",
        rng.choice(COUNTRIES),
        rng.choice([0, 1, 44, 49]),
        number_type,
        emergency,
        short,
        True,
    )
    return Facts(
        direction=rng.choice(["inbound", "outbound"]),
        context=rng.choice(CONTEXTS),
        number=number,
        dest_kind=rng.choice(DESTINATION_KINDS),
        origin_country=rng.choice([None, *COUNTRIES]),
        shares_code=rng.random() < 0.5,
        licences=frozenset(rng.sample(LICENCES + PLANS, rng.randint(0, 4))),
        plan=rng.choice([None, *PLANS]),
        service_number=rng.random() < 0.1,
        credits_set_up=rng.random() < 0.8,
        balance_positive=rng.random() < 0.8,
        pools_left=frozenset(rng.sample(POOLS, rng.randint(0, 3))),
    )


# ---- the reference: a scan of every scenario, in order ------------------------------------


def scanned_route(engine: Engine, facts: Facts) -> Route:
    """The route as a plain scan finds it, with its trace built as it goes."""
    trace: list[TraceEntry] = []
    for scenario in engine.policy.scenarios:
        matched = scenario.test(facts)
        span = scenario.span
        note = None if matched else scenario.first_failure(facts)
        trace.append(TraceEntry(scenario.name, span.file, span.line, matched, note))
        if not matched:
            continue
        for guard in scenario.guards:
            denies = guard.denies(facts)
            rule = f"{scenario.name}: {guard.label}"
            trace.append(TraceEntry(rule, guard.span.file, guard.span.line, denies))
            if denies:
                return Route(
                    "deny", scenario.name, scenario.sentence, tuple(trace), denial=guard.denial
                )
        return engine._outcome(
            scenario.name, scenario.sentence, scenario.outcome, tuple(trace), None
        )
    return Route(
        "deny", "(none)", "No scenario decides this call", tuple(trace), denial="no_scenario"
    )


def scan_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every index name every scenario a candidate: routing becomes a full scan."""

    def everything(self: ScenarioIndex, facts: Facts) -> Iterator[int]:
        return iter(range(self._everything.bit_length()))

    monkeypatch.setattr(ScenarioIndex, "candidates", everything)


# ---- the property ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_indexed_route_is_the_scanned_route(tmp_path: Path, seed: int) -> None:
    engine = policy.load(random_rules(tmp_path / "rules", seed, 60))
    rng = random.Random(seed * 7919)
    deciders = set()
    for _ in range(1500):
        facts = random_facts(rng)
        expected = scanned_route(engine, facts)
        route = engine._route(facts, None)
        assert route == expected, (route.scenario, expected.scenario)
        assert (route.kind, route.scenario, route.denial, route.payer) == (
            expected.kind,
            expected.scenario,
            expected.denial,
            expected.payer,
        )
        assert tuple(route.trace) == expected.trace
        deciders.add(route.scenario)
    assert len(deciders) > 10  # the situations reach many scenarios, not one catch-all


def test_benchmark_policy_routes_alike(tmp_path: Path) -> None:
    """The benchmarks' generated policy (selective site rules before the bundled ones)."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    try:
        from run import generated_policy
    finally:
        sys.path.pop(0)
    engine = policy.load(generated_policy(tmp_path / "gen", 300, seed=11))
    rng = random.Random(3)
    for _ in range(1500):
        facts = random_facts(rng)
        assert engine._route(facts, None) == scanned_route(engine, facts)


# ---- the index itself ------------------------------------------------------------------------


def _compiled(tmp_path: Path, scenarios: str) -> CompiledPolicy:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(Path(rules_dir()) / "catalog.ccp", folder / "a_catalog.ccp")
    (folder / "b.ccp").write_text(scenarios, encoding="utf-8")
    return policy.load_policy(folder)


def _facts(**changes: object) -> Facts:
    fields: dict[str, object] = {
        "direction": "outbound",
        "context": "user",
        "number": NumberInfo("+4930", "4930", "DE", 49, "fixed_line", False, False, True),
        "dest_kind": "international",
        "origin_country": "US",
        "shares_code": False,
        "licences": frozenset({"teams_phone"}),
        "plan": "domestic_calling_plan",
    }
    fields.update(changes)
    return Facts(**fields)  # type: ignore[arg-type]


def test_candidates_are_only_the_scenarios_that_may_match(tmp_path: Path) -> None:
    compiled = _compiled(
        tmp_path,
        "\n".join(
            [
                'scenario to_de "DE": when outbound and destination in DE\n    then free',
                'scenario to_fr "FR": when outbound and destination in FR\n    then free',
                'scenario inbound_de "In": when inbound and destination in DE\n    then free',
                'scenario site "Site": when user has audio_conferencing\n    then free',
                'scenario either "Either": when (from meeting or from call_queue)\n    then free',
                'scenario mobile "M": when to is mobile or to is voip\n    then free',
                'scenario foreign "F": when not caller shares calling code\n    then free',
                'scenario ja "JP": when not (caller in JP or destination in FR)\n    then free',
                'scenario never "Never": when inbound and outbound\n    then free',
                'scenario opaque "O": when not (inbound and destination in DE)\n    then free',
            ]
        ),
    )
    names = [s.name for s in compiled.scenarios]

    def candidates(facts: Facts) -> list[str]:
        return [names[i] for i in compiled.index.candidates(facts)]

    assert candidates(_facts()) == ["to_de", "foreign", "ja", "opaque"]
    assert candidates(
        _facts(
            direction="inbound",
            context="meeting",
            shares_code=True,
            origin_country="JP",
            licences=frozenset({"audio_conferencing"}),
            number=NumberInfo("+33", "33", "FR", 33, "mobile", False, False, True),
        )
    ) == ["site", "either", "mobile", "opaque"]


def test_a_scenario_the_index_leaves_out_is_still_in_the_trace(tmp_path: Path) -> None:
    engine = policy.load(random_rules(tmp_path / "rules", 1, 0))
    facts = _facts(number=NumberInfo("911", "911", "US", 0, "emergency", True, True, True))
    route = engine._route(facts, None)
    assert route.scenario == "emergency" and route.trace == scanned_route(engine, facts).trace


# ---- the trace behaves as the tuple it stands for ---------------------------------------------


def test_trace_is_built_once_when_read_and_behaves_as_its_tuple(tmp_path: Path) -> None:
    engine = policy.load(random_rules(tmp_path / "rules", 2, 5))
    facts = _facts(context="meeting", licences=frozenset())
    route = engine._route(facts, None)
    trace = route.trace
    assert isinstance(trace, Trace) and trace._entries is None  # routing did not build it
    expected = scanned_route(engine, facts).trace
    assert trace == expected and expected == trace and operator.ne(trace, expected) is False
    assert trace._entries is not None
    assert trace.entries is trace.entries  # built once, kept
    assert hash(trace) == hash(expected)
    assert len(trace) == len(expected) and list(trace) == list(expected)
    assert trace[0] == expected[0] and trace[-1] == expected[-1]
    assert trace[1:3] == expected[1:3] and expected[-1] in trace
    assert repr(trace) == repr(expected)
    assert () + trace == expected and trace + () == expected  # noqa: RUF005 - the operators
    assert pickle.loads(pickle.dumps(trace)) == expected
    assert type(pickle.loads(pickle.dumps(trace))) is tuple
    assert trace != list(expected) and trace != "x"


def test_decisions_built_from_a_trace_compare_with_stored_ones(tmp_path: Path) -> None:
    """A decision read back (tuple trace) equals the engine's (lazy trace)."""
    from helpers import make_tenant

    engine = policy.load()
    decision = engine.evaluate(
        {"id": "c1", "direction": "outbound", "to": "+14255550100", "user": "alice@contoso.com",
         "start": "2026-11-02T09:00:00Z", "duration": 60},
        make_tenant(),
    )  # fmt: skip
    copy = decision._replace(trace=tuple(decision.trace))
    assert decision == copy and copy == decision
    assert decision.to_dict() == copy.to_dict()


# ---- whole runs print the same bytes as a full scan -------------------------------------------


def _outputs(rules: Path, tmp_path: Path, tag: str) -> list[bytes]:
    tenant, calls = str(DATA / "tenant.yaml"), str(EXAMPLES / "calls.yaml")
    out: list[bytes] = []
    for args in (
        ["eval", "--tenant", tenant, "--calls", calls, "--rules", str(rules)],
        ["eval", "--tenant", tenant, "--calls", calls, "--rules", str(rules), "--format", "text"],
        ["eval", "--tenant", tenant, "--calls", calls, "--rules", str(rules), "--format", "text",
         "--explain"],
        ["eval", "--tenant", tenant, "--calls", calls, "--rules", str(rules), "--explain"],
    ):  # fmt: skip
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            main(args)
        out.append(buffer.getvalue().encode())
    for calls_file, name in (
        (DATA / "calls.csv", "usage.csv"),
        (EXAMPLES / "calls.yaml", "d.jsonl"),
    ):
        target = tmp_path / f"{tag}-{name}"
        with redirect_stdout(io.StringIO()):
            main(["rate", "--tenant", tenant, "--calls", str(calls_file), "--out", str(target),
                  "--rules", str(rules)])  # fmt: skip
        out.append(target.read_bytes())
    return out


@pytest.mark.parametrize("seed", [5, 6])
def test_eval_and_rate_print_what_a_full_scan_prints(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = random_rules(tmp_path / "rules", seed, 40)
    indexed = _outputs(rules, tmp_path, "indexed")
    assert all(indexed) and b'"trace"' in indexed[0] and b"Rules, in order" in indexed[2]
    scan_everything(monkeypatch)
    assert _outputs(rules, tmp_path, "scanned") == indexed


def test_rating_to_csv_never_builds_a_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Trace) -> tuple[TraceEntry, ...]:
        raise AssertionError("a trace was read")

    monkeypatch.setattr(Trace, "entries", property(refuse))
    target = tmp_path / "usage.csv"
    with redirect_stdout(io.StringIO()):
        code = main(["rate", "--tenant", str(DATA / "tenant.yaml"), "--calls",
                     str(DATA / "calls.csv"), "--out", str(target)])  # fmt: skip
    assert code == 0
    assert target.read_bytes() == (DATA / "expected.csv").read_bytes()
