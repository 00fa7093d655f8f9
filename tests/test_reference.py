"""The contract lives in the repository: docs/reference.md.

Nothing tracked points at a document outside the repository, and every "reference rule
RN" cited anywhere (code, comments, docs, schemas, rule files, test data) — and every
"RN" cited inside docs/reference.md itself — names a rule that docs/reference.md defines.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from policy.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"

#: Text that points outside the repository (or at a contract other than ours); spelt in
#: pieces so that this file does not match itself.
SPEC = "SP" + "EC"
FORBIDDEN = ("../" + "shared", "shared/" + SPEC, SPEC + " ruling", SPEC + ".md")

#: Files owned by work in progress elsewhere that still cite a ruling of the old contract;
#: each entry must still hold its text (a stale exception fails): the list only shrinks.
PENDING: dict[str, str] = {
    "policy/ledger/ledger.py": SPEC + " ruling 7",
    "policy/ledger/payments.py": SPEC + " ruling 7",
}

#: "reference rule R8", "reference rules R1 and R3", "reference rules R6, R7, R8, R16",
#: "reference rules R36–R41" (a range cites both ends).
CITATION = re.compile(r"[Rr]eference rules?\s+(R\d+(?:\s*(?:,|and|or|–|-)\s*R\d+)*)", re.MULTILINE)
RULE_NUMBER = re.compile(r"\bR(\d+)\b")
DEFINED = re.compile(r'^<a id="r(\d+)"></a>\*\*R(\d+) — ', re.MULTILINE)


@cache
def tracked_files() -> tuple[Path, ...]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an installed package has no tracked files)")
    out = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode("utf-8")
    return tuple(ROOT / name for name in out.split("\0") if name)


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None  # deleted in the working tree, or a submodule
    if b"\0" in data:
        return None  # binary
    return data.decode("utf-8", errors="replace")


@cache
def defined_rules() -> dict[int, int]:
    """Rule number → how many times docs/reference.md defines it."""
    counts: dict[int, int] = {}
    for anchor, title in DEFINED.findall(REFERENCE.read_text(encoding="utf-8")):
        assert anchor == title, f"anchor r{anchor} on rule R{title}"
        counts[int(title)] = counts.get(int(title), 0) + 1
    return counts


def test_reference_defines_each_rule_once_and_in_order() -> None:
    rules = defined_rules()
    assert sorted(rules) == list(range(1, max(rules) + 1)), "rule numbers have a gap"
    assert all(count == 1 for count in rules.values()), "a rule is defined twice"
    # R1–R34 keep the numbers other programs already cite.
    assert max(rules) >= 34


def test_nothing_points_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        text = _text(path)
        if text is None:
            continue
        name = path.relative_to(ROOT).as_posix()
        for needle in FORBIDDEN:
            if needle in text and needle not in PENDING.get(name, ""):
                line = text[: text.index(needle)].count("\n") + 1
                offenders.append(f"{name}:{line}: {needle!r}")
    assert not offenders, "cite docs/reference.md instead:\n" + "\n".join(offenders)


def test_pending_exceptions_are_still_needed() -> None:
    for name, needle in PENDING.items():
        text = _text(ROOT / name)
        assert text is not None and needle in text, (
            f"{name} no longer says {needle!r}: remove it from PENDING"
        )


def _cited(text: str) -> list[tuple[int, int]]:
    """(line, rule number) for every "reference rule RN" in ``text``."""
    found = []
    for match in CITATION.finditer(text):
        line = text[: match.start()].count("\n") + 1
        found.extend((line, int(n)) for n in RULE_NUMBER.findall(match.group(1)))
    return found


def test_citation_pattern() -> None:
    text = "reference rule R8; Reference rules R1 and R3\nreference rules R6, R7, R16 and R36–R41"
    assert [n for _, n in _cited(text)] == [8, 1, 3, 6, 7, 16, 36, 41]
    assert _cited("no rule here, R5 alone is not a citation") == []


def test_every_cited_rule_exists() -> None:
    rules = defined_rules()
    missing = []
    for path in tracked_files():
        text = _text(path)
        if text is None:
            continue
        name = path.relative_to(ROOT).as_posix()
        for line, number in _cited(text):
            if number not in rules:
                missing.append(f"{name}:{line}: reference rule R{number}")
    assert not missing, "cited but not defined in docs/reference.md:\n" + "\n".join(missing)


def test_rules_cited_inside_the_reference_exist() -> None:
    rules = defined_rules()
    text = REFERENCE.read_text(encoding="utf-8")
    unknown = sorted({int(n) for n in RULE_NUMBER.findall(text)} - set(rules))
    assert not unknown, f"docs/reference.md cites undefined rules: {unknown}"


def test_links_to_rules_have_their_anchor() -> None:
    rules = defined_rules()
    bad = []
    for path in tracked_files():
        if path.suffix != ".md":
            continue
        text = _text(path) or ""
        for number in re.findall(r"reference\.md#r(\d+)\b", text):
            if int(number) not in rules:
                bad.append(f"{path.relative_to(ROOT).as_posix()}: #r{number}")
    assert not bad, bad


def _commands(parser: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


def test_every_command_and_option_is_in_the_reference() -> None:
    """`ccpolicy --help` and each subcommand's --help say nothing the reference does not."""
    text = REFERENCE.read_text(encoding="utf-8")
    missing = []
    for path, sub in _commands(build_parser()):
        named = (f"ccpolicy {' '.join(path)}", f"`{path[-1]}", f"{path[-1]}`")
        if not any(form in text for form in named):
            missing.append(f"command: ccpolicy {' '.join(path)}")
        for action in sub._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help" and option not in text:
                    missing.append(f"ccpolicy {' '.join(path)} {option}")
    assert not missing, "document these in docs/reference.md:\n" + "\n".join(missing)
