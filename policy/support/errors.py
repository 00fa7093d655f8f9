"""Errors and findings: one root, located messages, stable exit codes.

Every problem ccpolicy reports is a :class:`Finding` — a severity, a message and a
place (``file:line:col`` for policy source, ``file:line: field.path`` for data
files). Library code raises a :class:`PolicyError` carrying the first error
finding; the command line collects every finding and renders them all.

Exit codes (documented in the README): 0 clean, 1 findings / bad input, 2 usage,
3 an optional extra (``xlsx``, ``charts``, ``ledger``) is not installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # checked as the dataclasses they behave like
    from dataclasses import dataclass as record
else:
    from policy.support.records import record


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_MISSING_EXTRA",
    "EXIT_OK",
    "EXIT_USAGE",
    "CheckError",
    "EvaluationError",
    "FieldPath",
    "Finding",
    "InputError",
    "Location",
    "MissingExtraError",
    "PolicyError",
    "PolicySyntaxError",
    "SchemaError",
    "UsageError",
    "render_path",
]

#: Where a value sits in a data document: keys and list indexes from the root.
FieldPath = tuple[str | int, ...]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def render_path(path: Sequence[str | int]) -> str:
    """``("users", 2, "licenses", 0)`` → ``users[2].licenses[0]``; ``()`` → ``(root)``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out.append(f"[{part}]")
        elif not isinstance(part, str):
            out.append(f"[{part!r}]")
        elif _IDENT.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(out) or "(root)"


EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_MISSING_EXTRA = 3


class Location(NamedTuple):
    """A place in a file. ``line`` and ``column`` are 1-based; 0 means unknown.

    A named tuple: readers make one per record, and a tuple is built three times faster
    than a frozen dataclass."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        text = self.file
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text


@record(frozen=True, slots=True)
class Finding:
    """One reported problem (or warning) with its place and an optional hint."""

    severity: str  # "error" | "warning"
    message: str
    location: Location | None = None
    path: str | None = None  # data files: the field path, e.g. users[2].licenses[0]
    source_line: str | None = None
    hint: str | None = None
    code: str = "error"  # a stable category, e.g. "syntax", "unknown-name", "schema"
    related: tuple[Location, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def headline(self) -> str:
        """``file:line:col: error: message`` (policy) or ``file:line: path: message`` (data)."""
        place = str(self.location) if self.location else ""
        if self.path is not None:
            head = (
                f"{place}: {self.path}: {self.message}" if place else f"{self.path}: {self.message}"
            )
            if self.severity != "error":
                head = f"{place}: {self.severity}: {self.path}: {self.message}"
            return head
        if place:
            return f"{place}: {self.severity}: {self.message}"
        return f"{self.severity}: {self.message}"

    def render(self) -> str:
        """The headline, then the source line with a caret under the column, then the hint."""
        lines = [self.headline()]
        if self.source_line is not None and self.location is not None:
            src = self.source_line.rstrip("\n").expandtabs(1)
            lines.append(f"    {src}")
            if self.location.column:
                lines.append("    " + " " * (self.location.column - 1) + "^")
        if self.hint:
            lines.append(f"    hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }
        if self.location is not None:
            out["file"] = self.location.file
            out["line"] = self.location.line
            out["column"] = self.location.column
        if self.path is not None:
            out["path"] = self.path
        if self.hint:
            out["hint"] = self.hint
        return out


class PolicyError(Exception):
    """The root of every error ccpolicy raises on purpose."""

    exit_code = EXIT_BAD_INPUT
    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: str | None = None,
        source_line: str | None = None,
        hint: str | None = None,
        code: str | None = None,
        findings: tuple[Finding, ...] = (),
    ) -> None:
        self.finding = Finding(
            "error",
            message,
            location=location,
            path=path,
            source_line=source_line,
            hint=hint,
            code=code or self.default_code,
        )
        self.findings: tuple[Finding, ...] = findings or (self.finding,)
        super().__init__(self.finding.headline())

    @classmethod
    def from_finding(cls, finding: Finding, findings: tuple[Finding, ...] = ()) -> PolicyError:
        return cls(
            finding.message,
            location=finding.location,
            path=finding.path,
            source_line=finding.source_line,
            hint=finding.hint,
            code=finding.code,
            findings=findings or (finding,),
        )

    @property
    def message(self) -> str:
        return self.finding.message

    def render(self) -> str:
        return "\n".join(f.render() for f in self.findings)


class PolicySyntaxError(PolicyError):
    """A ``.ccp`` file that the grammar does not accept."""

    default_code = "syntax"


class CheckError(PolicyError):
    """A policy that parses but does not make sense (unknown names, duplicates, types)."""

    default_code = "check"


class SchemaError(PolicyError):
    """A YAML/JSON/CSV data file that breaks its schema; ``path`` names the field."""

    default_code = "schema"


class InputError(PolicyError):
    """A file that cannot be read at all: missing, binary, not YAML/JSON, too large."""

    default_code = "input"


class EvaluationError(PolicyError):
    """A call the engine cannot decide because its data is wrong (impossible number…)."""

    default_code = "call"


class UsageError(PolicyError):
    """A command line that does not make sense."""

    exit_code = EXIT_USAGE
    default_code = "usage"


class MissingExtraError(PolicyError):
    """A feature needs an optional extra that is not installed (exit 3, one hint)."""

    exit_code = EXIT_MISSING_EXTRA
    default_code = "missing-extra"

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra ({module} is not installed)",
            hint=f"pip install 'ccpolicy[{extra}]'",
        )
        self.extra = extra
