"""The service's error body: ``{"error": {"code", "message", "findings": [{"path", "message"}]}}``.

Every refusal is an :class:`ApiError` with a status and one of the stable codes (reference
rule 30); library errors become one through :func:`from_policy_error`, their findings
keeping the field paths the command line prints.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from policy.support.errors import Finding, PolicyError

__all__ = ["CODES", "ApiError", "error_body", "finding_record", "from_policy_error"]

#: error.code by HTTP status (405 reuses ``not_found``: no such route for that method).
CODES: dict[int, str] = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "not_found",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    503: "not_ready",
}


class ApiError(Exception):
    """A request refused with ``status``; ``code`` defaults to the status's code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        findings: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES[status]
        self.message = message
        self.findings = list(findings)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.findings)


def error_body(code: str, message: str, findings: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "findings": list(findings)}}


def finding_record(finding: Finding) -> dict[str, Any]:
    """One finding as the body lists it: the field path (null when the finding is about a
    file, not a field), the message, and where it is when that is a file."""
    record: dict[str, Any] = {"path": finding.path, "message": finding.message}
    if finding.location is not None and finding.location.file not in ("<call>", "<body>"):
        record["location"] = str(finding.location)
    if finding.severity != "error":
        record["severity"] = finding.severity
    if finding.hint:
        record["hint"] = finding.hint
    return record


def from_policy_error(exc: PolicyError, status: int = 400) -> ApiError:
    """A library error about the request (a schema violation, an impossible number...)."""
    findings = [finding_record(f) for f in exc.findings]
    return ApiError(status, exc.message, findings=findings)
