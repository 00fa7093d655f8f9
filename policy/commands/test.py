"""``ccpolicy test``: run policy tests (``*_test.yaml``), optionally with coverage.

Output like pytest: a line per file with a dot per passing test (F failed, E error),
then each failure with expected vs actual field by field and the decision trace of the
failing call, and last ``N passed, M failed`` (errors count as failed). ``--format
json`` prints one object, ``--format junit`` JUnit XML; ``--output FILE`` writes that
to FILE and keeps the text report on stdout. Exit 0 all passed (and coverage at least
``--threshold``), 1 any failure or error, 2 usage.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from xml.etree import ElementTree as ET

from policy.commands.common import paint, paths_to_verify
from policy.support.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError

if TYPE_CHECKING:
    from policy.tools.testing import CallFailure, TestResult

NAME = "test"
_LETTER = {"passed": ".", "failed": "F", "error": "E"}


def register(commands: Any) -> None:
    test = commands.add_parser(
        NAME,
        help="run policy tests (*_test.yaml), with coverage",
        description="Run policy test files: decide each test's calls in order and compare "
        "the decisions with the fields expected (or the error expected). Exit 0 all passed, "
        "1 any failure or error (or coverage below --threshold), 2 usage.",
    )
    test.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="test files, or directories searched for *_test.yaml; 'bundled' for the "
        "bundled rules' tests (default: the current directory when it holds .ccp files)",
    )
    test.add_argument(
        "--rules",
        metavar="DIR",
        help="policy for test files that name none (default: the nearest directory above "
        "the test file holding .ccp files, else the bundled rules)",
    )
    test.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only tests whose name (or file::name) contains PATTERN, or matches it as a "
        "glob (*, ?, [...]); repeatable",
    )
    test.add_argument("--coverage", action="store_true", help="report policy coverage")
    test.add_argument(
        "--threshold",
        type=float,
        metavar="N",
        help="fail (exit 1) when coverage is below N percent (implies --coverage)",
    )
    test.add_argument("--format", choices=("text", "json", "junit"), default="text")
    test.add_argument(
        "--output",
        metavar="FILE",
        help="write the json/junit report to FILE (the text report still goes to stdout)",
    )
    test.add_argument("-v", "--verbose", action="store_true", help="one line per test")


def run(args: argparse.Namespace) -> int:
    from policy.tools.coverage import Coverage, below_threshold
    from policy.tools.testing import Runner, discover

    if args.threshold is not None and not 0 <= args.threshold <= 100:
        raise UsageError(f"--threshold must be between 0 and 100, not {args.threshold:g}")
    coverage = Coverage() if args.coverage or args.threshold is not None else None
    runner = Runner(
        rules=Path(args.rules) if args.rules else None,
        observer=coverage,
        patterns=tuple(args.run),
    )
    from policy.support.resources import rules_dir

    files = discover(paths_to_verify(args.paths, "test", str(rules_dir() / "tests")))
    results = list(runner.run(files))
    report = coverage.report() if coverage is not None else None
    threshold = args.threshold
    below = report is not None and threshold is not None and below_threshold(report, threshold)

    if args.format == "text":
        text = io.StringIO()
        _text(results, report, args, text, style=sys.stdout if not args.output else text)
        _emit(text.getvalue(), args.output)
    else:
        if args.output:  # the people's report on stdout, the machine's in the file
            _text(results, report, args, sys.stdout, style=sys.stdout)
        body = _json(results, report, threshold) if args.format == "json" else _junit(results)
        _emit(body, args.output)
    if not files:
        sys.stderr.write("ccpolicy test: no test files (*_test.yaml) found\n")
        return EXIT_BAD_INPUT
    if not results:
        sys.stderr.write(f"ccpolicy test: no tests match --run {' '.join(args.run)}\n")
        return EXIT_BAD_INPUT
    if below:
        assert report is not None and threshold is not None
        sys.stderr.write(
            f"ccpolicy test: coverage {report['percent']:.1f}% is below the threshold "
            f"of {threshold:g}%\n"
        )
    failed = any(r.outcome != "passed" for r in results)
    return EXIT_BAD_INPUT if failed or below else EXIT_OK


def _emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _counts(results: Sequence[TestResult]) -> tuple[int, int, int]:
    passed = sum(r.outcome == "passed" for r in results)
    errors = sum(r.outcome == "error" for r in results)
    return passed, len(results) - passed, errors


# ---------------------------------------------------------------------------- text


def _text(
    results: Sequence[TestResult],
    report: dict[str, Any] | None,
    args: argparse.Namespace,
    out: TextIO,
    *,
    style: TextIO,
) -> None:
    """The pytest-like report; colour when ``style`` is a terminal (and NO_COLOR unset)."""
    from policy.tools.coverage import render_text

    if args.verbose:
        for r in results:
            word = r.outcome.upper()
            color = "32" if r.outcome == "passed" else "31;1"
            out.write(f"{r.id} {paint(word, color, style)}\n")
    else:
        by_file: dict[str, list[str]] = {}
        for r in results:
            by_file.setdefault(r.file, []).append(_LETTER[r.outcome])
        for name, letters in by_file.items():
            out.write(f"{name} {''.join(letters)}\n")
    bad = [r for r in results if r.outcome != "passed"]
    if bad:
        out.write("\n" + _rule(" FAILURES ", "=") + "\n")
        for r in bad:
            out.write(_rule(f" {r.id} ", "_") + "\n")
            out.write(failure_text(r) + "\n\n")
    if report is not None:
        out.write(render_text(report) + "\n")
    passed, failed, _errors = _counts(results)
    summary = f"{passed} passed, {failed} failed"
    out.write(paint(summary, "31;1" if failed else "32", style) + "\n")
    out.flush()


def _rule(title: str, char: str, width: int = 80) -> str:
    side = max(width - len(title), 4) // 2
    return f"{char * side}{title}{char * side}"


def _value(value: Any) -> str:
    from policy.tools.testing import MISSING

    if value is MISSING:
        return "(missing)"
    return json.dumps(value, ensure_ascii=False)


def failure_text(result: TestResult) -> str:
    """A failure or error as people read it: where, what differed, the rules consulted."""
    head = f"{result.file}:{result.line}: {result.name or 'file'} [{result.outcome}]"
    lines = [head]
    if result.message:
        lines.append(result.message)
    for call in result.calls:
        lines.extend(_call_text(call))
    return "\n".join(lines)


def _call_text(call: CallFailure) -> list[str]:
    lines = [f"call {call.call!r} (calls[{call.index}]):"]
    for diff in call.diffs:
        lines.append(f"  {diff.path}: expected {_value(diff.expected)}, got {_value(diff.actual)}")
    lines.append("  decision trace:")
    if not call.trace:
        lines.append("    (no rule consulted: decided by the engine before the rules)")
    for entry in call.trace:
        mark = "matched" if entry.matched else "no"
        note = f" — {entry.note}" if entry.note else ""
        lines.append(f"    {entry.file}:{entry.line} {entry.rule}: {mark}{note}")
    return lines


# ---------------------------------------------------------------------------- json


def _json(
    results: Sequence[TestResult], report: dict[str, Any] | None, threshold: float | None
) -> str:
    passed, failed, errors = _counts(results)
    data: dict[str, Any] = {
        "summary": {"tests": len(results), "passed": passed, "failed": failed, "errors": errors},
        "tests": [_result_dict(r) for r in results],
    }
    if report is not None:
        data["coverage"] = {**report, "threshold": threshold}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _result_dict(r: TestResult) -> dict[str, Any]:
    from policy.tools.testing import MISSING

    return {
        "file": r.file,
        "name": r.name,
        "line": r.line,
        "outcome": r.outcome,
        "message": r.message,
        "calls": [
            {
                "index": c.index,
                "call": c.call,
                "diffs": [
                    {
                        "path": d.path,
                        "expected": d.expected,
                        "actual": None if d.actual is MISSING else d.actual,
                        "missing": d.actual is MISSING,
                    }
                    for d in c.diffs
                ],
                "trace": [t.to_dict() for t in c.trace],
            }
            for c in r.calls
        ],
    }


# ---------------------------------------------------------------------------- junit


def _junit(results: Sequence[TestResult]) -> str:
    _passed, failed, errors = _counts(results)
    root = ET.Element(
        "testsuites",
        name="ccpolicy",
        tests=str(len(results)),
        failures=str(failed - errors),
        errors=str(errors),
    )
    suites: dict[str, list[TestResult]] = {}
    for r in results:
        suites.setdefault(r.file, []).append(r)
    for file, members in suites.items():
        f_count = sum(m.outcome == "failed" for m in members)
        e_count = sum(m.outcome == "error" for m in members)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(members)),
            failures=str(f_count),
            errors=str(e_count),
            skipped="0",
            file=file,
        )
        classname = file.rsplit(".", 1)[0].replace("/", ".").replace("\\", ".")
        for r in members:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=classname,
                name=r.name or file,
                file=file,
                line=str(r.line),
            )
            if r.outcome != "passed":
                tag = "failure" if r.outcome == "failed" else "error"
                first = r.message.splitlines()[0] if r.message else r.outcome
                node = ET.SubElement(case, tag, message=first, type=tag)
                node.text = failure_text(r)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
