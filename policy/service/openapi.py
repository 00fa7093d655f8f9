"""``/openapi.json``: OpenAPI 3.1 whose bodies are the project's JSON Schemas.

The schemas in ``schemas/`` are the one source of truth: each is placed under
``components.schemas`` as it is, only its references rewritten to point there (its
``$defs`` become components named ``<schema>.<def>``). ``/docs`` renders the same
document as a page (no script, nothing fetched from elsewhere).
"""

from __future__ import annotations

import copy
import functools
import html
from typing import Any

from policy import __version__
from policy.data.validation import load_schema

__all__ = ["SCHEMAS", "docs_page", "openapi_document"]

_BASE = "https://ccpolicy.dev/schemas/"
#: The schemas the API uses, by component name.
SCHEMAS = ("call", "decision", "grant", "session-report", "balance", "error")


def _component(name: str) -> str:
    return f"#/components/schemas/{name}"


def _embed(name: str, components: dict[str, Any]) -> None:
    schema = copy.deepcopy(load_schema(name))
    defs = schema.pop("$defs", {})
    schema.pop("$schema", None)
    schema.pop("$id", None)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rewrite(v) for k, v in node.items() if k != "patternErrorMessage"}
            ref = out.get("$ref")
            if isinstance(ref, str):
                if ref.startswith("#/$defs/"):
                    out["$ref"] = _component(f"{name}.{ref[len('#/$defs/') :]}")
                elif ref.startswith(_BASE):
                    out["$ref"] = _component(ref[len(_BASE) :].removesuffix(".schema.json"))
            return out
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    components[name] = rewrite(schema)
    for key, value in defs.items():
        components[f"{name}.{key}"] = rewrite(value)


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {
        400: "bad JSON (bad_json) or a body that breaks its schema (invalid), with field paths",
        401: "no token, or an unknown one (unauthorized)",
        403: "the token may not use this route or this tenant (forbidden)",
        404: "unknown tenant or session (not_found)",
        409: "conflict with an open or ended session (conflict)",
        413: "the body is larger than the limit, 64 KiB by default (too_large)",
        415: "the body is not application/json (unsupported_media_type)",
        503: "no policy that checks clean is loaded, or the ledger cannot be reached (not_ready)",
    }
    body = {"application/json": {"schema": {"$ref": _component("error")}}}
    return {str(s): {"description": texts[s], "content": body} for s in statuses}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _component(ref)}}},
    }


_TENANT = {
    "name": "tenant",
    "in": "path",
    "required": True,
    "description": "The tenant id (its tenant file's `tenant:`), percent-encoded.",
    "schema": {"type": "string", "minLength": 1},
}
_CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "description": "The session id (the call id), percent-encoded: a `/` is `%2F`.",
    "schema": {"type": "string", "minLength": 1},
}
_SECURED: list[dict[str, list[str]]] = [{"bearer": []}]


def _operations() -> dict[str, Any]:
    call_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _component("call")}}},
    }
    report_body = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": _component("session-report")}}},
    }
    tenant_errors = (400, 401, 403, 404, 413, 415, 503)
    return {
        "/v1/tenants/{tenant}/decide": {
            "post": {
                "operationId": "decide",
                "summary": "Decide a call against the ledger's live state, writing nothing",
                "description": "Without `duration`: an authorization (`max_duration`). With "
                "`duration`: priced as a charge would be, not charged. A denial is a 200 "
                "with `permitted: false`. Scope `decide`.",
                "parameters": [_TENANT],
                "security": _SECURED,
                "requestBody": call_body,
                "responses": {"200": _json("decision", "the decision"), **_errors(*tenant_errors)},
            }
        },
        "/v1/tenants/{tenant}/charges": {
            "post": {
                "operationId": "charge",
                "summary": "Charge a finished call (with `duration`), idempotent by call id",
                "description": "A repeated id returns the first decision and changes nothing "
                "(header `Ccpolicy-Replayed: true`). Scope `charge`.",
                "parameters": [_TENANT],
                "security": _SECURED,
                "requestBody": call_body,
                "responses": {
                    "200": _json("decision", "the decision, charged"),
                    **_errors(*tenant_errors, 409),
                },
            }
        },
        "/v1/tenants/{tenant}/sessions": {
            "post": {
                "operationId": "begin",
                "summary": "Begin a session for a call about to connect: a grant",
                "description": "The call has no `duration`; the session id is the call id. A "
                "denial is a 200 with `grant.seconds: 0` and stores no session; repeating the "
                "same begin returns the open session's grant. Scope `charge`.",
                "parameters": [_TENANT],
                "security": _SECURED,
                "requestBody": call_body,
                "responses": {
                    "200": _json("grant", "the grant"),
                    **_errors(*tenant_errors, 409),
                },
            }
        },
        "/v1/tenants/{tenant}/sessions/{call_id}/update": {
            "post": {
                "operationId": "update",
                "summary": "Report the seconds used so far: a further grant",
                "description": "Scope `charge`.",
                "parameters": [_TENANT, _CALL_ID],
                "security": _SECURED,
                "requestBody": report_body,
                "responses": {
                    "200": _json("grant", "the grant"),
                    **_errors(*tenant_errors, 409),
                },
            }
        },
        "/v1/tenants/{tenant}/sessions/{call_id}/end": {
            "post": {
                "operationId": "end",
                "summary": "The call ended after `used` seconds: the decision, charged",
                "description": "Releases the hold and charges the call; a repeated end "
                "returns the first decision. Scope `charge`.",
                "parameters": [_TENANT, _CALL_ID],
                "security": _SECURED,
                "requestBody": report_body,
                "responses": {
                    "200": _json("decision", "the decision, charged"),
                    **_errors(*tenant_errors),
                },
            }
        },
        "/v1/tenants/{tenant}/balance": {
            "get": {
                "operationId": "balance",
                "summary": "The ledger's balance and open funding lots",
                "description": "Scope `charge`.",
                "parameters": [_TENANT],
                "security": _SECURED,
                "responses": {
                    "200": _json("balance", "the balance report"),
                    **_errors(401, 403, 404, 503),
                },
            }
        },
        "/v1/admin/reload": {
            "post": {
                "operationId": "reload",
                "summary": "Re-read rules, rate card and tenants; swap only if they check clean",
                "description": "A refused policy leaves the one loaded before serving; the "
                "findings are in the reply (400), the log and /readyz. Scope `admin`.",
                "security": _SECURED,
                "responses": {
                    "200": {
                        "description": "swapped in",
                        "content": {"application/json": {"schema": _RELOADED}},
                    },
                    **_errors(400, 401, 403),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Live: the process answers (the do-nothing route of the benchmarks)",
                "responses": {
                    "200": {
                        "description": "alive",
                        "content": {"application/json": {"schema": _HEALTH}},
                    }
                },
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Ready: a policy that checks clean is loaded and the ledger answers",
                "responses": {
                    "200": {
                        "description": "ready; `last_reload` has the last reload's findings",
                        "content": {"application/json": {"schema": _READY}},
                    },
                    **_errors(503),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format)",
                "responses": {
                    "200": {
                        "description": "the metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


_RELOADED = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reloaded", "generation", "findings"],
    "properties": {
        "reloaded": {"const": True},
        "generation": {"type": "integer"},
        "findings": {
            "description": "warnings of the policy swapped in",
            "$ref": _component("error") + "/properties/error/properties/findings",
        },
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"const": "ok"}},
}
_READY = {
    "type": "object",
    "required": ["status", "generation", "loaded_at", "tenants", "last_reload"],
    "properties": {
        "status": {"const": "ready"},
        "generation": {"type": "integer"},
        "loaded_at": {"type": "string", "format": "date-time"},
        "tenants": {"type": "array", "items": {"type": "string"}},
        "last_reload": {
            "type": "object",
            "required": ["ok", "findings"],
            "properties": {
                "ok": {"type": "boolean"},
                "findings": {"$ref": _component("error") + "/properties/error/properties/findings"},
            },
        },
    },
}


@functools.cache
def openapi_document() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name in SCHEMAS:
        _embed(name, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ccpolicy serve",
            "version": __version__,
            "description": "Decisions and charging for prepaid PSTN calls over HTTP. Decisions "
            "and grants are exactly what `ccpolicy eval` and the ledger produce.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": _operations(),
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token of the tokens file (when serve runs with --tokens)",
                }
            },
        },
    }


@functools.cache
def docs_page() -> str:
    document = openapi_document()
    rows = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            statuses = ", ".join(operation["responses"])
            summary = html.escape(operation["summary"])
            detail = html.escape(operation.get("description", ""))
            rows.append(
                f"<tr><td><code>{method.upper()} {html.escape(path)}</code></td>"
                f"<td>{summary}<br><small>{detail}</small></td><td>{statuses}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>ccpolicy serve</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "td{vertical-align:top;padding:.4em;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>ccpolicy serve {html.escape(__version__)}</h1>"
        "<p>Bodies are the JSON Schemas of <a href='/openapi.json'>/openapi.json</a>. Errors are "
        '<code>{"error": {"code", "message", "findings"}}</code>.</p>'
        "<table><tr><th>route</th><th>does</th><th>answers</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
