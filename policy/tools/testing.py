"""Policy tests: find ``*_test.yaml`` files, decide their calls, compare with what they expect.

A test file (schema ``schemas/test.schema.json``) names a tenant, optionally a rate card
and a policy, and a list of tests. Each test decides its calls in order, as ``ccpolicy
eval`` does, and either compares each decision with the fields it expects (any subset)
or expects the run to fail with an error (a finding code or a message substring).

:func:`discover` finds the files, :class:`Runner` runs them and returns one
:class:`TestResult` per test; an optional :class:`Observer` sees every decision with
the facts the rules saw (coverage uses that).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from policy.data.call import Call, calls_from_document
from policy.data.documents import Document, load_document
from policy.data.tenant import Tenant
from policy.engine.compile import CompiledPolicy
from policy.engine.decision import Decision, TraceEntry
from policy.engine.evaluate import Engine
from policy.engine.facts import Facts
from policy.language.source import display_name
from policy.pipeline import load
from policy.pricing.ratecard import COLUMNS, RateCard
from policy.support.errors import (
    FieldPath,
    Finding,
    InputError,
    Location,
    PolicyError,
    SchemaError,
    render_path,
)
from policy.support.resources import rules_dir

__all__ = [
    "CallFailure",
    "FieldDiff",
    "Observer",
    "Runner",
    "TestFile",
    "TestResult",
    "discover",
    "matches",
    "reference_findings",
]

PASSED, FAILED, ERROR = "passed", "failed", "error"
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "(missing)"})()
_MONEY_FIELDS = frozenset({"amount", "balance_after"})
_PATTERNS = ("*_test.yaml", "*_test.yml")


class Observer(Protocol):
    """Sees each engine and each decision of a run (see :mod:`policy.tools.coverage`)."""

    def engine_loaded(self, policy: CompiledPolicy) -> None: ...

    def observe(self, policy: CompiledPolicy, facts: Facts, decision: Decision) -> None: ...


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One expected field that does not hold: its path, what was expected, what came."""

    path: str
    expected: Any
    actual: Any


@dataclass(frozen=True, slots=True)
class CallFailure:
    """A call whose decision differs from its expectation, with the rules it consulted."""

    index: int
    call: str
    diffs: tuple[FieldDiff, ...]
    trace: Sequence[TraceEntry]


@dataclass(frozen=True, slots=True)
class TestResult:
    """The outcome of one test (or of a test file that could not be read: ``name`` "")."""

    file: str
    name: str
    line: int
    outcome: str  # passed | failed | error
    message: str = ""
    calls: tuple[CallFailure, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}" if self.name else self.file


@dataclass(frozen=True, slots=True)
class TestFile:
    """A parsed, schema-valid test file."""

    path: Path
    name: str  # display name
    document: Document

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.document.data
        return data

    def tests(self) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from enumerate(self.data["tests"])

    @property
    def root(self) -> Path:
        """The policy directory the file belongs to: the nearest directory at or above it
        holding ``.ccp`` files, else the file's own directory. Every path the file names
        must resolve inside it."""
        folder = self.path.resolve().parent
        for candidate in (folder, *folder.parents):
            if any(candidate.glob("*.ccp")):
                return candidate
        return folder

    def reference(self, where: FieldPath) -> Path:
        """The file (or directory) named by the string at ``where``, relative to this file.

        Raises :class:`InputError`, located at the value in this file, when it resolves
        (symbolic links followed) outside :attr:`root` — the foreign file is never opened,
        so nothing of it can reach a message."""
        node: Any = self.data
        for key in where:
            node = node[key]
        value = str(node)
        target = (self.path.parent / value).resolve()
        root = self.root
        if target.is_relative_to(root):
            return self.path.parent / value
        line = self.document.line_of(where)
        source = self.document.source_line(line) if line else None
        column = _column(source, value)
        raise InputError(
            f"{value!r} is outside the policy directory {display_name(root)}",
            location=Location(self.name, line, column),
            path=render_path(where),
            source_line=source,
            hint="a test file names files inside its policy directory (the nearest folder "
            "at or above it holding .ccp files): relative paths, symbolic links included, "
            "may not lead out of it",
            code="outside_policy_directory",
        )


def _file_fields(data: Mapping[str, Any]) -> Iterator[FieldPath]:
    """Where a test file names another file: each string ``rules``, ``rates``, ``tenant``
    and ``calls`` (at the top or in a test)."""
    for key in ("rules", "rates", "tenant"):
        if isinstance(data.get(key), str):
            yield (key,)
    tests = data.get("tests")
    for index, test in enumerate(tests if isinstance(tests, list) else ()):
        for key in ("tenant", "calls"):
            if isinstance(test, dict) and isinstance(test.get(key), str):
                yield ("tests", index, key)


def reference_findings(path: Path, document: Document) -> list[Finding]:
    """Every file ``document`` (a test file at ``path``) names outside its policy
    directory, as findings (``ccpolicy check`` of a test file reports them)."""
    test_file = TestFile(path, display_name(path), document)
    found: list[Finding] = []
    for where in _file_fields(document.data):
        try:
            test_file.reference(where)
        except InputError as exc:
            found.extend(exc.findings)
    return sorted(found, key=lambda f: f.location or Location(""))


def _column(source: str | None, value: str) -> int:
    """The 1-based column where ``value`` is written on ``source`` (after the key), or 0."""
    if not source:
        return 0
    start = source.find(":") + 1
    at = source.find(value, start)
    return at + 1 if at >= 0 else 0


# ---------------------------------------------------------------------------- discovery


def discover(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Test files under ``paths`` (directories recursively; files as given), sorted.

    With no paths: the bundled rules' own tests (``rules/tests/``).
    """
    roots = [Path(p) for p in paths] or [rules_dir() / "tests"]
    found: list[Path] = []
    for root in roots:
        if root.is_dir():
            hits = {p for pattern in _PATTERNS for p in root.rglob(pattern) if p.is_file()}
            found.extend(sorted(hits))
        else:
            found.append(root)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(path, None)
    return list(unique)


def matches(result_id: str, name: str, patterns: Sequence[str]) -> bool:
    """``--run``: a pattern with ``*?[`` is a glob on the test's name, otherwise a
    case-insensitive substring of it; a pattern containing ``::`` is matched against
    ``file::name`` instead."""
    if not patterns:
        return True
    for pattern in patterns:
        low = pattern.lower()
        text = (result_id if "::" in pattern else name).lower()
        if any(c in pattern for c in "*?[") and fnmatch.fnmatchcase(text, low):
            return True
        if low in text:
            return True
    return False


# ---------------------------------------------------------------------------- comparison


def _money_equal(expected: Any, actual: Any) -> bool:
    try:
        return Decimal(str(expected)) == Decimal(str(actual))
    except InvalidOperation:
        return False


def compare(expected: Any, actual: Any, path: str = "") -> list[FieldDiff]:
    """Subset comparison: every field of ``expected`` must hold in ``actual``.

    Mappings compare the keys given; lists need as many entries, each compared as a
    subset; money (``amount``, ``balance_after``) compares as decimals.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [FieldDiff(path, expected, actual)]
        diffs: list[FieldDiff] = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                diffs.append(FieldDiff(where, value, MISSING))
            elif key in _MONEY_FIELDS and isinstance(value, str) and isinstance(actual[key], str):
                if not _money_equal(value, actual[key]):
                    diffs.append(FieldDiff(where, value, actual[key]))
            else:
                diffs.extend(compare(value, actual[key], where))
        return diffs
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [FieldDiff(path, expected, actual)]
        out: list[FieldDiff] = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(compare(e, a, f"{path}[{i}]"))
        return out
    if _is_number(expected) and _is_number(actual):
        return [] if expected == actual else [FieldDiff(path, expected, actual)]
    if expected != actual or type(expected) is not type(actual):
        return [FieldDiff(path, expected, actual)]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _expectation(raw: Mapping[str, Any]) -> dict[str, Any]:
    expected = dict(raw)
    if isinstance(expected.get("cost"), str):
        expected["cost"] = {"amount": expected["cost"]}
    return expected


# ---------------------------------------------------------------------------- running


@dataclass
class _Setup:
    """What a file's tests share: the engine (or why there is none)."""

    engine: Engine | None
    problem: PolicyError | None = None


@dataclass
class Runner:
    """Runs test files. ``rules`` is the policy for files that name none (``--rules``)."""

    rules: Path | None = None
    observer: Observer | None = None
    patterns: Sequence[str] = ()
    _engines: dict[tuple[str, str], _Setup] = field(default_factory=dict)

    def run(self, paths: Iterable[Path]) -> Iterator[TestResult]:
        for path in paths:
            yield from self.run_file(path)

    def run_file(self, path: Path) -> Iterator[TestResult]:
        name = display_name(path)
        try:
            document = load_document(path, schema="test")
        except PolicyError as exc:
            yield TestResult(name, "", 1, ERROR, _render(exc.findings))
            return
        test_file = TestFile(path, name, document)
        setup: _Setup | None = None
        for index, test in test_file.tests():
            result_id = f"{name}::{test['name']}"
            if not matches(result_id, test["name"], self.patterns):
                continue
            if setup is None:
                setup = self._setup(test_file)
            yield self._run_test(test_file, index, test, setup)

    # -- the policy and rate card of a file
    def _setup(self, test_file: TestFile) -> _Setup:
        data = test_file.data
        base = test_file.path.parent
        try:
            rules = (
                test_file.reference(("rules",)) if "rules" in data else self._default_rules(base)
            )
            rates = data.get("rates")
            card: Path | None = None
            if isinstance(rates, str):
                card = test_file.reference(("rates",))
                sidecar = card.with_suffix(".yaml")
                if sidecar.exists() and not sidecar.resolve().is_relative_to(test_file.root):
                    raise InputError(
                        "the rate card's sidecar is a link to a file outside the policy "
                        f"directory {display_name(test_file.root)}",
                        location=Location(display_name(sidecar)),
                        code="outside_policy_directory",
                    )
        except PolicyError as exc:
            return _Setup(None, exc)
        key = (str(rules.resolve()), repr(rates) if card is None else str(card.resolve()))
        if key not in self._engines:
            self._engines[key] = self._load(rules, card if card is not None else rates, test_file)
        return self._engines[key]

    def _default_rules(self, folder: Path) -> Path:
        if self.rules is not None:
            return self.rules
        for candidate in (folder, *folder.resolve().parents):
            if any(candidate.glob("*.ccp")):
                return candidate
        return rules_dir()

    def _load(self, rules: Path, rates: Any, test_file: TestFile) -> _Setup:
        try:
            card: RateCard | Path | None = None
            if isinstance(rates, Path):
                card = rates
            elif isinstance(rates, list):
                card = _inline_card(rates, test_file)
            engine = load(rules, rates=card)
        except PolicyError as exc:
            return _Setup(None, exc)
        if self.observer is not None:
            self.observer.engine_loaded(engine.policy)
        return _Setup(engine)

    # -- one test
    def _run_test(
        self, test_file: TestFile, index: int, test: dict[str, Any], setup: _Setup
    ) -> TestResult:
        name, line = test["name"], test_file.document.line_of(("tests", index))
        expected_error = test.get("error")

        def result(
            outcome: str, message: str = "", calls: tuple[CallFailure, ...] = ()
        ) -> TestResult:
            return TestResult(test_file.name, name, line, outcome, message, calls)

        if expected_error is not None and "expect" in test:
            return result(
                ERROR,
                f"{test_file.name}:{line}: tests[{index}]: give either expect or error, not both",
            )
        if setup.engine is None:
            assert setup.problem is not None
            return _error_outcome(setup.problem, expected_error, result)
        engine = setup.engine
        try:
            tenant = _tenant(test_file, index, test)
            calls = _calls(test_file, index, test)
            engine.bind(tenant)
            for call in calls:  # impossible numbers are bad input, as in `ccpolicy eval`
                engine.check_call(call, tenant)
            decisions = self._decide(engine, calls, tenant)
        except PolicyError as exc:
            return _error_outcome(exc, expected_error, result)
        if expected_error is not None:
            return result(
                FAILED,
                f"expected error {expected_error!r}, but all {len(calls)} calls were decided",
            )
        expect = test["expect"]
        if len(expect) != len(calls):
            return result(
                ERROR,
                f"{test_file.name}:{line}: tests[{index}].expect: {len(expect)} "
                f"expectations for {len(calls)} calls (give one per call; {{}} matches any)",
            )
        failures = []
        for i, (decision, raw) in enumerate(zip(decisions, expect, strict=True)):
            diffs = compare(_expectation(raw), decision.to_dict())
            if diffs:
                failures.append(CallFailure(i, decision.call, tuple(diffs), decision.trace))
        if failures:
            count = sum(len(f.diffs) for f in failures)
            return result(
                FAILED,
                f"{count} field{'s differ' if count != 1 else ' differs'} in {len(failures)} "
                f"call{'s' * (len(failures) != 1)}",
                tuple(failures),
            )
        return result(PASSED)

    def _decide(self, engine: Engine, calls: list[Call], tenant: Tenant) -> list[Decision]:
        observer = self.observer
        if observer is None:
            return list(engine.run(calls, tenant))
        # Engine.run, step by step, so the observer sees the facts before each decision.
        state = engine.bind(tenant).initial.copy()
        seen: dict[str, Decision] = {}
        out: list[Decision] = []
        for call in calls:
            state.begin(call.month)
            earlier = seen.get(call.id)
            if earlier is not None:
                out.append(earlier)
                continue
            facts, _ = engine.situation(call, tenant, state)
            decision = engine.decide(call, tenant, state)
            seen[call.id] = decision
            observer.observe(engine.policy, facts, decision)
            out.append(decision)
        return out


def _render(findings: Sequence[Finding]) -> str:
    return "\n".join(f.render() for f in findings)


def _error_outcome(
    exc: PolicyError, expected: str | None, result: Callable[[str, str], TestResult]
) -> TestResult:
    rendered = _render(exc.findings)
    if expected is None:
        return result(ERROR, rendered)
    for finding in exc.findings:
        if finding.code == expected or expected in finding.message or expected in rendered:
            return result(PASSED, "")
    codes = ", ".join(sorted({f.code for f in exc.findings}))
    return result(FAILED, f"expected error {expected!r}, got [{codes}]:\n{rendered}")


# ---------------------------------------------------------------------------- inputs


def _inline_card(rows: list[dict[str, Any]], test_file: TestFile) -> RateCard:
    filled = [{column: row.get(column, "") for column in COLUMNS} | row for row in rows]
    try:
        return RateCard.from_rows(filled, source=test_file.name)
    except SchemaError as exc:
        finding = exc.finding
        row = (finding.location.line if finding.location else 1) - 1
        path: FieldPath = ("rates", row, finding.path) if finding.path else ("rates", row)
        raise SchemaError(
            finding.message,
            location=Location(test_file.name, test_file.document.line_of(path)),
            path=render_path(path),
            hint=finding.hint,
        ) from None


def _tenant(test_file: TestFile, index: int, test: dict[str, Any]) -> Tenant:
    """The test's tenant: the file's, with the test's top-level fields replacing its own.

    Problems are reported where the field is written: in the test, or in the file's tenant.
    """
    own = test.get("tenant")
    shared = test_file.data["tenant"]
    if isinstance(own, str):
        return Tenant.from_file(test_file.reference(("tests", index, "tenant")))
    if isinstance(shared, str) and not own:
        return Tenant.from_file(test_file.reference(("tenant",)))
    doc = test_file.document
    overrides = set(own or {})
    shared_lines: Callable[[FieldPath], int]
    if isinstance(shared, str):  # fields of another file: named by the test file, no line
        shared_data = load_document(test_file.reference(("tenant",)), schema="tenant").data

        def shared_lines(path: FieldPath) -> int:
            return 0

    else:
        shared_data = shared

        def shared_lines(path: FieldPath) -> int:
            return doc.line_of(("tenant", *path))

    def line_of(path: FieldPath) -> int:
        if path and path[0] in overrides:
            return doc.line_of(("tests", index, "tenant", *path))
        return shared_lines(path)

    data = {**shared_data, **(own or {})}
    for key in [k for k, v in data.items() if v is None]:  # `credits: null` removes credits
        del data[key]
    return Tenant.from_dict(data, source=test_file.name, line_of=line_of)


def _calls(test_file: TestFile, index: int, test: dict[str, Any]) -> list[Call]:
    raw = test["calls"]
    if isinstance(raw, str):
        document = load_document(test_file.reference(("tests", index, "calls")), schema="calls")
        return list(calls_from_document(document))
    doc = test_file.document
    return [
        Call.from_dict(
            item,
            source=test_file.name,
            line=doc.line_of(("tests", index, "calls", j)),
            path=f"tests[{index}].calls[{j}]",
            validated=True,
        )
        for j, item in enumerate(raw)
    ]
