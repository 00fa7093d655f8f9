"""The policy language specified by data: every ``tests/language/*/NAME.ccp`` beside its
``NAME.expected``, one test per fixture (as sqlglot's and jmespath's fixture files do).

- ``parse/``: the file is parsed (:func:`policy.language.parser.parse`). Expected: the
  syntax tree, one node per line (``Kind @line:col``, fields indented below it, names as
  ``'value' @line:col``), or the syntax error as ``ccpolicy check`` prints it.
- ``check/``: the file is checked (:func:`policy.language.check.check_modules`). A first
  line ``# with base.ccp`` checks it together with ``check/base.ccp`` (a small policy with
  no findings), as two files. Expected: every finding as ``ccpolicy check`` prints it, in
  its order, each followed by its ``code:`` (what ``--format json`` adds), or
  ``(no findings)``.
- ``format/``: the file is formatted (:func:`policy.language.format.format_text`).
  Expected: the canonical text. The runner also holds that the expected text is a fixed
  point and parses to the same tree as the input, spans aside.

Files are read and compared as bytes decoded from UTF-8 (no newline translation). With
``CCPOLICY_UPDATE_FIXTURES=1`` the runner rewrites every ``.expected`` from what the code
does now (review the diff before committing); without it, a mismatch fails with a diff.
See ``tests/language/README.md``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policy.language import ast
from policy.language.check import check_modules
from policy.language.format import format_text
from policy.language.parser import parse
from policy.support.errors import Finding, PolicySyntaxError

ROOT = Path(__file__).parent / "language"
UPDATE = os.environ.get("CCPOLICY_UPDATE_FIXTURES") == "1"
WITH_BASE = "# with base.ccp\n"


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


# ---- what each kind of fixture prints ------------------------------------------------------


def _diagnostics(findings: Any) -> str:
    if not findings:
        return "(no findings)\n"
    return "".join(f"{f.render()}\n    code: {f.code}\n" for f in findings)


def _value(value: Any, indent: str, positions: bool) -> list[str]:
    """Lines for one field value (the first line is appended to the field's own line)."""
    if isinstance(value, ast.Name):
        where = f" @{value.span.line}:{value.span.column}" if positions else ""
        return [f"{value.value!r}{where}"]
    if isinstance(value, tuple):
        if not value:
            return ["[]"]
        lines = [""]
        for item in value:
            first, *rest = _value(item, indent + "    ", positions)
            lines.append(f"{indent}  - {first}".rstrip())
            lines.extend(rest)
        return lines
    if hasattr(value, "__slots__") and hasattr(value, "__match_args__"):
        return _node(value, indent + "  ", positions)
    return [repr(value)]


def _node(node: Any, indent: str, positions: bool) -> list[str]:
    span = getattr(node, "span", None)
    where = f" @{span.line}:{span.column}" if positions and isinstance(span, ast.Span) else ""
    lines = [f"{type(node).__name__}{where}"]
    for name in node.__match_args__:
        if name == "span":
            continue
        first, *rest = _value(getattr(node, name), indent, positions)
        lines.append(f"{indent}{name}: {first}".rstrip())
        lines.extend(rest)
    return lines


def dump(module: ast.Module, positions: bool = True) -> str:
    """The syntax tree of a module, one node or field per line."""
    if not module.statements:
        return "(no statements)\n"
    out: list[str] = []
    for statement in module.statements:
        out.extend(_node(statement, "  ", positions))
    return "\n".join(out) + "\n"


def run_parse(path: Path) -> str:
    try:
        module = parse(_read(path), path.name)
    except PolicySyntaxError as exc:
        return _diagnostics(exc.findings)
    return dump(module)


def run_check(path: Path) -> str:
    text = _read(path)
    modules = []
    if text.startswith(WITH_BASE):
        modules.append(parse(_read(path.parent / "base.ccp"), "base.ccp"))
    modules.append(parse(text, path.name))
    found: list[Finding]
    _, found = check_modules(modules)
    return _diagnostics(found)


def run_format(path: Path) -> str:
    text = _read(path)
    out = format_text(text, path.name)
    if not UPDATE:
        assert format_text(out, path.name) == out, "the canonical text is not a fixed point"
        same = dump(parse(out, path.name), positions=False)
        assert same == dump(parse(text, path.name), positions=False), "formatting changed the tree"
    return out


RUNNERS: dict[str, Callable[[Path], str]] = {
    "parse": run_parse,
    "check": run_check,
    "format": run_format,
}


# ---- the one generic test --------------------------------------------------------------------


def _fixtures() -> list[Any]:
    params = []
    for kind in sorted(RUNNERS):
        for path in sorted((ROOT / kind).glob("*.ccp")):
            params.append(pytest.param(kind, path, id=f"{kind}/{path.stem}"))
    return params


def test_every_kind_has_fixtures() -> None:
    for kind in RUNNERS:
        assert sorted((ROOT / kind).glob("*.ccp")), f"no fixtures in tests/language/{kind}/"


def test_every_expected_file_has_its_input() -> None:
    for expected in ROOT.glob("*/*.expected"):
        assert expected.with_suffix(".ccp").is_file(), f"{expected} has no .ccp beside it"


@pytest.mark.parametrize(("kind", "path"), _fixtures())
def test_language_fixture(kind: str, path: Path) -> None:
    actual = RUNNERS[kind](path)
    expected_path = path.with_suffix(".expected")
    if UPDATE:
        expected_path.write_bytes(actual.encode("utf-8"))
        return
    assert expected_path.is_file(), (
        f"{expected_path} is missing; run with CCPOLICY_UPDATE_FIXTURES=1 to write it"
    )
    expected = _read(expected_path)
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"{kind}/{expected_path.name} (expected)",
                f"{kind}/{path.name} (actual)",
            )
        )
        pytest.fail(
            f"{kind}/{path.name} does not give {expected_path.name}:\n{diff}"
            "(if the new output is right: CCPOLICY_UPDATE_FIXTURES=1 pytest "
            "tests/test_language_fixtures.py, then review the diff)",
            pytrace=False,
        )
