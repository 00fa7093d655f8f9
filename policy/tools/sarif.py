"""SARIF 2.1.0: findings as a Static Analysis Results Interchange Format log.

Code-scanning UIs (GitHub, GitLab, Azure DevOps, VS Code's SARIF viewer) read this to
annotate the lines a finding names. One ``reportingDescriptor`` (rule) per finding
code, one ``result`` per finding: its level (``error`` / ``warning``), message and,
when the finding has a place, a physical location with a ``startLine`` /
``startColumn`` region. Paths are written as relative URIs (forward slashes) against
``%SRCROOT%``, the directory ``ccpolicy`` ran in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from policy import __version__
from policy.support.errors import Finding

__all__ = ["INFORMATION_URI", "RULE_DESCRIPTIONS", "SARIF_SCHEMA", "SARIF_VERSION", "to_sarif"]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ccpolicy/"
TOOL_NAME = "ccpolicy"

RULE_DESCRIPTIONS: dict[str, str] = {
    "syntax": "The policy file does not follow the .ccp grammar.",
    "check": "The policy parses but does not make sense.",
    "unknown-name": "A name (zone, licence, plan, pool, role, denial…) that is not declared.",
    "duplicate": "A name declared twice, or a statement that repeats another.",
    "type": "A value of the wrong kind for where it is used.",
    "coverage": "A pool or rule that leaves some users or places without an answer.",
    "unused": "A declaration nothing uses.",
    "unreachable": "A scenario that can never decide a call (shadowed or contradictory).",
    "gap": "Call situations that no scenario decides (refused as no_scenario).",
    "schema": "A data file that breaks its JSON Schema.",
    "duplicate-key": "A YAML/JSON mapping that repeats a key.",
    "input": "A file that cannot be read or recognised.",
    "number": "A phone number that cannot exist.",
    "unknown-licence": "A tenant licence the policy does not declare (reference rule R17).",
    "unrouted-role": "A tenant admin role the policy does not notify.",
    "call": "A call the engine cannot decide because its data is wrong.",
    "usage": "A command line that does not make sense.",
}


def _uri(file: str) -> str:
    """A relative (or absolute ``file:``) URI reference for a finding's file."""
    path = PurePath(file)
    posix = path.as_posix()
    if path.is_absolute():
        return "file://" + quote(posix)
    return quote(posix)


def _rule(code: str) -> dict[str, Any]:
    text = RULE_DESCRIPTIONS.get(code, f"ccpolicy finding '{code}'.")
    return {
        "id": code,
        "name": "".join(part.capitalize() for part in code.replace("_", "-").split("-")),
        "shortDescription": {"text": text},
        "helpUri": INFORMATION_URI,
    }


def _message(finding: Finding) -> str:
    text = f"{finding.path}: {finding.message}" if finding.path else finding.message
    if finding.hint:
        text += f" (hint: {finding.hint})"
    return text


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index,
        "level": "error" if finding.is_error else "warning",
        "message": {"text": _message(finding)},
    }
    where = finding.location
    if where is not None and where.file:
        physical: dict[str, Any] = {
            "artifactLocation": {"uri": _uri(where.file), "uriBaseId": "%SRCROOT%"}
        }
        if where.line > 0:
            region: dict[str, Any] = {"startLine": where.line}
            if where.column > 0:
                region["startColumn"] = where.column
            if finding.source_line is not None:
                region["snippet"] = {"text": finding.source_line.rstrip("\n")}
            physical["region"] = region
        result["locations"] = [{"physicalLocation": physical}]
    return result


def to_sarif(findings: Sequence[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log (one run) of ``findings``, ready for ``json.dump``."""
    codes = list(dict.fromkeys(f.code for f in findings))
    index = {code: i for i, code in enumerate(codes)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(code) for code in codes],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, index[f.code]) for f in findings],
            }
        ],
    }
