"""The ``/v1`` routes: decide, charges, balance, sessions (begin, update, end), reload.

Ids in paths are percent-encoded segments (a SIP Call-ID may hold ``/``), so these routes
are matched on the raw path, each segment decoded on its own (reference rule 31). Each
request runs the checks in one order: the route, the token (401, 403), readiness (503),
the tenant (404), the body (415, 413, 400), then the ledger. Decisions and grants are the
library's ``to_dict()``, written with the same ``json.dumps`` as the command line.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from policy.data.call import Call, call_from_mapping
from policy.data.tenant import Tenant
from policy.data.validation import validate
from policy.engine.decision import Decision
from policy.ledger import Ledger, LedgerError
from policy.ledger.sessions import held, net_of
from policy.service.bodies import read_json
from policy.service.errors import ApiError, finding_record, from_policy_error
from policy.service.state import Snapshot
from policy.support.errors import PolicyError

__all__ = ["ROUTES", "Context", "Route", "json_response", "match"]


def json_response(
    record: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(record, ensure_ascii=False).encode("utf-8")
    return Response(body, status, headers=headers, media_type="application/json")


@dataclass(slots=True)
class Context:
    """One /v1 request: the service, the request, the path's parameters, the snapshot."""

    service: Any  # policy.service.app.Service (above this module)
    request: Request
    params: dict[str, str]
    snapshot: Snapshot | None = None
    tenant: Tenant | None = None
    ledger: Ledger | None = None

    async def body(self) -> Any:
        return await read_json(self.request, self.service.max_body)

    async def call(self) -> Call:
        body = await self.body()
        try:
            call = call_from_mapping(body, source="<body>")
        except PolicyError as exc:
            raise from_policy_error(exc) from None
        self.request.state.call = call.id
        return call


Handler = Callable[[Context], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str  # the route as documented, e.g. /v1/tenants/{tenant}/decide
    parts: tuple[str | None, ...]  # None: a parameter
    names: tuple[str, ...]
    scope: str
    handler: Handler
    tenant: bool  # the route names a tenant


def _route(method: str, template: str, scope: str, handler: Handler) -> Route:
    segments = template.strip("/").split("/")
    parts = tuple(None if s.startswith("{") else s for s in segments)
    names = tuple(s[1:-1] for s in segments if s.startswith("{"))
    return Route(method, template, parts, names, scope, handler, "tenant" in names)


def _segments(raw_path: bytes) -> list[str] | None:
    raw = raw_path.partition(b"?")[0]
    try:
        return [unquote_to_bytes(s).decode("utf-8") for s in raw.strip(b"/").split(b"/")]
    except UnicodeDecodeError:
        return None


def match(method: str, raw_path: bytes) -> tuple[Route, dict[str, str]]:
    """The route and its parameters, or an :class:`ApiError` (404, 405)."""
    segments = _segments(raw_path)
    allowed: list[str] = []
    if segments is not None:
        for route in ROUTES:
            if len(route.parts) != len(segments):
                continue
            values = []
            for part, segment in zip(route.parts, segments, strict=True):
                if part is None:
                    if not segment:
                        break
                    values.append(segment)
                elif part != segment:
                    break
            else:
                if route.method == method:
                    return route, dict(zip(route.names, values, strict=True))
                allowed.append(route.method)
    if allowed:
        raise ApiError(
            405, f"use {' or '.join(allowed)} here", headers={"Allow": ", ".join(allowed)}
        )
    raise ApiError(404, "no such route (see /openapi.json)")


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run a ledger call off the event loop; its errors become 4xx/503 answers."""
    try:
        return await to_thread.run_sync(function, *args)
    except LedgerError as exc:
        raise _ledger_error(exc) from None
    except PolicyError as exc:  # an impossible number, a bad field: bad input
        raise from_policy_error(exc) from None


_LEDGER_STATUS = {
    "database": 503,
    "no-ledger": 503,
    "schema-version": 503,
    "unknown-tenant": 503,
    "unknown-session": 404,
    "conflict": 409,
}


def _ledger_error(exc: LedgerError) -> ApiError:
    status = _LEDGER_STATUS.get(exc.finding.code, 400)
    findings = [finding_record(f) for f in exc.findings]
    if status == 503:  # about the database, not the request: no place, no URL parts
        findings = [{"path": None, "message": exc.message}]
    return ApiError(status, exc.message, findings=findings)


def _count(ctx: Context, decision: Decision, route: str) -> None:
    ctx.service.metrics.decisions.labels(route, decision.paid_by, decision.denial or "").inc()


def _decision(
    ctx: Context, decision: Decision, route: str, headers: dict[str, str] | None = None
) -> Response:
    _count(ctx, decision, route)
    return json_response(decision.to_dict(), headers=headers)


# ---- handlers --------------------------------------------------------------------------


async def decide(ctx: Context) -> Response:
    """A decision against the ledger's live state, writing nothing."""
    call = await ctx.call()
    assert ctx.ledger is not None
    if call.duration is None:
        decision = await _in_thread(ctx.ledger.authorize, call)
    else:
        decision = await _in_thread(price, ctx.ledger, call)
    return _decision(ctx, decision, "decide")


def price(ledger: Ledger, call: Call) -> Decision:
    """``call`` (with a duration) priced as ``charge`` would price it against the ledger's
    live state net of the open sessions' holds (as ``authorize`` sees it); nothing is
    written."""
    now = ledger.clock()
    with ledger._tx(write=False) as conn:
        row = ledger._tenant_row(conn, lock=False)
        lots = ledger._open_lots(conn, row.id)
        usage = ledger._usage(conn, row.id, call.month)
        state = ledger._state(row, lots, usage, call.month, now)
        net_of(state, held(conn, row.id, call.month))
    return ledger.engine.decide(call, ledger._need_tenant(), state)


async def charges(ctx: Context) -> Response:
    """A finished call charged, idempotent by call id (a repeat returns the first decision)."""
    call = await ctx.call()
    if call.duration is None:
        raise ApiError(
            400,
            f"call '{call.id}' has no duration: only finished calls are charged",
            findings=[{"path": "duration", "message": "required to charge a call"}],
        )
    assert ctx.ledger is not None
    charged = await _in_thread(ctx.ledger.submit, call)
    headers = {"Ccpolicy-Replayed": "true"} if charged.replayed else None
    return _decision(ctx, charged.decision, "charges", headers)


async def balance(ctx: Context) -> Response:
    assert ctx.ledger is not None
    report = await _in_thread(ctx.ledger.balance)
    return json_response(report.to_dict())


async def begin(ctx: Context) -> Response:
    """Open a session (a call about to connect) and grant it seconds; a denial stores none."""
    call = await ctx.call()
    assert ctx.ledger is not None
    grant = await _in_thread(ctx.ledger.begin, call)
    _count(ctx, grant.decision, "sessions")
    return json_response(grant.to_dict())


async def _used(ctx: Context) -> int:
    body = await ctx.body()
    findings = validate(body, "session-report", filename="<body>")
    if findings:
        raise ApiError(400, findings[0].message, findings=[finding_record(f) for f in findings])
    used: int = body["used"]
    return used


async def update(ctx: Context) -> Response:
    """Seconds used so far → a further grant."""
    used = await _used(ctx)
    assert ctx.ledger is not None
    grant = await _in_thread(ctx.ledger.update, ctx.params["call_id"], used)
    _count(ctx, grant.decision, "update")
    return json_response(grant.to_dict())


async def end(ctx: Context) -> Response:
    """The call ended: release the hold, charge it; a repeated end returns the first decision."""
    used = await _used(ctx)
    assert ctx.ledger is not None
    decision = await _in_thread(ctx.ledger.end, ctx.params["call_id"], used)
    return _decision(ctx, decision, "end")


async def reload(ctx: Context) -> Response:
    """Re-read rules, rate card and tenants; swap only if they check clean."""
    ok, findings = await ctx.service.reload("api")
    holder = ctx.service.holder
    record = {
        "reloaded": ok,
        "generation": holder.current.generation if holder.current else None,
        "findings": [finding_record(f) for f in findings],
    }
    if not ok:
        message = "the new policy does not check clean: the one loaded before keeps serving"
        if holder.current is None:
            message = "the policy does not check clean: nothing is loaded"
        return json_response(
            {"error": {"code": "invalid", "message": message, "findings": record["findings"]}},
            400,
        )
    return json_response(record)


ROUTES: tuple[Route, ...] = (
    _route("POST", "/v1/tenants/{tenant}/decide", "decide", decide),
    _route("POST", "/v1/tenants/{tenant}/charges", "charge", charges),
    _route("GET", "/v1/tenants/{tenant}/balance", "charge", balance),
    _route("POST", "/v1/tenants/{tenant}/sessions", "charge", begin),
    _route("POST", "/v1/tenants/{tenant}/sessions/{call_id}/update", "charge", update),
    _route("POST", "/v1/tenants/{tenant}/sessions/{call_id}/end", "charge", end),
    _route("POST", "/v1/admin/reload", "admin", reload),
)
