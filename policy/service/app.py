"""The ASGI application: Starlette for the plumbing, :mod:`policy.service.routes` for /v1.

``create_app(Service(...))`` gives an app any ASGI server can run; ``ccpolicy serve`` runs
it with uvicorn. The policy is loaded at start-up (lifespan); until a policy that checks
clean is loaded, ``/readyz`` and every /v1 route answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policy.service import logs
from policy.service.auth import Gate
from policy.service.bodies import DEFAULT_MAX_BODY
from policy.service.errors import ApiError, error_body, finding_record
from policy.service.metrics import CONTENT_TYPE, Metrics
from policy.service.openapi import docs_page, openapi_document
from policy.service.routes import Context, json_response, match
from policy.service.state import Holder, Settings, Snapshot
from policy.support.errors import Finding

__all__ = ["Service", "create_app"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class Service:
    """What one server process keeps: the snapshot holder, the gate, the metrics."""

    def __init__(
        self,
        settings: Settings,
        gate: Gate | None = None,
        *,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.holder = Holder(settings)
        self.gate = gate or Gate(None)
        self.max_body = max_body
        self.metrics = Metrics()
        self._reloading: asyncio.Lock | None = None

    async def reload(self, cause: str) -> tuple[bool, list[Finding]]:
        """Read and check everything again off the event loop; requests keep being
        answered with the snapshot they started with."""
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            started = time.perf_counter()
            ok, findings = await to_thread.run_sync(self.holder.reload)
        self.metrics.reloads.labels("ok" if ok else "refused").inc()
        supervisor = os.environ.get("CCPOLICY_SERVE_SUPERVISOR")
        if cause == "api" and supervisor and supervisor.isdigit():
            with contextlib.suppress(OSError):  # the other workers reload too
                os.kill(int(supervisor), signal.SIGHUP)
        current = self.holder.current
        logs.event(
            "reload",
            logging.INFO if ok else logging.ERROR,
            cause=cause,
            result="ok" if ok else "refused",
            generation=current.generation if current else None,
            tenants=sorted(current.tenants) if current else [],
            ms=round((time.perf_counter() - started) * 1000, 1),
            findings=[f.headline() for f in findings],
        )
        return ok, findings


# ---- the plain routes ------------------------------------------------------------------


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    service = _service(request)
    holder = service.holder
    last = [finding_record(f) for f in holder.findings]
    snapshot = holder.current
    if snapshot is None:
        return json_response(
            error_body("not_ready", "no policy that checks clean is loaded", last), 503
        )
    try:
        await to_thread.run_sync(_ping, snapshot)
    except Exception as exc:  # any failure to read the ledger: not ready, say why
        message = getattr(exc, "message", None) or type(exc).__name__
        return json_response(
            error_body(
                "not_ready", "the ledger cannot be read", [{"path": None, "message": message}]
            ),
            503,
        )
    return json_response(
        {
            "status": "ready",
            "generation": snapshot.generation,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(snapshot.loaded_at)),
            "tenants": sorted(snapshot.tenants),
            "last_reload": {"ok": holder.last_ok, "findings": last},
        }
    )


def _ping(snapshot: Snapshot) -> None:
    for ledger in snapshot.ledgers.values():
        ledger.history(1)
        return


async def metrics(request: Request) -> Response:
    service = _service(request)
    snapshot = service.holder.current
    if snapshot is not None:
        with contextlib.suppress(Exception):  # the ledger is down: /readyz says so
            counts = await to_thread.run_sync(_open_sessions, snapshot)
            for tenant, count in counts.items():
                service.metrics.open_sessions.labels(tenant).set(count)
    return Response(service.metrics.render(), media_type=CONTENT_TYPE)


def _open_sessions(snapshot: Snapshot) -> dict[str, int]:
    return {name: len(ledger.sessions()) for name, ledger in snapshot.ledgers.items()}


async def openapi(request: Request) -> Response:
    return json_response(openapi_document())


async def docs(request: Request) -> Response:
    return HTMLResponse(docs_page())


async def v1(request: Request) -> Response:
    """Every /v1 route: matched on the raw path, checked 401 → 403 → 503 → 404 → body."""
    service = _service(request)
    try:
        route, params = match(
            request.method, request.scope.get("raw_path") or request.url.path.encode()
        )
        request.state.route = route.template
        tenant_id = params.get("tenant")
        request.state.tenant = tenant_id
        service.gate.check(request.headers.get("authorization"), route.scope, tenant_id)
        ctx = Context(service, request, params)
        if route.tenant:
            snapshot = service.holder.current
            if snapshot is None:
                raise ApiError(503, "no policy that checks clean is loaded (see /readyz)")
            assert tenant_id is not None
            tenant = snapshot.tenants.get(tenant_id)
            if tenant is None:
                raise ApiError(404, f"no tenant '{tenant_id}' here")
            ctx.snapshot, ctx.tenant, ctx.ledger = snapshot, tenant, snapshot.ledgers[tenant_id]
        if "call_id" in params:
            request.state.call = params["call_id"]
        response = await route.handler(ctx)
    except ApiError as exc:
        return json_response(exc.body(), exc.status, headers=exc.headers)
    return response


# ---- observation: request id, one log line, metrics ------------------------------------


class Observe:
    """Pure ASGI middleware: a request id, then one log line and the metrics per request.
    An unexpected exception becomes a 500 with a JSON body (never a traceback)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        sent = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                sent = True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            logs.event(
                "error",
                logging.ERROR,
                request_id=request_id,
                error=type(exc).__name__,
                where=_where(exc),
            )
            if not sent:
                body = json_response(error_body("internal", "internal error (logged)"), 500)
                await body(scope, receive, send_with_id)
        finally:
            route = state.get("route") or _plain_route(scope)
            elapsed = time.perf_counter() - started
            metrics = self.service.metrics
            metrics.requests.labels(route, scope["method"], str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "ms": round(elapsed * 1000, 3),
            }
            if state.get("tenant"):
                fields["tenant"] = state["tenant"]
            if state.get("call"):
                fields["call"] = state["call"]
            logs.event("request", **fields)


def _where(exc: BaseException) -> str:
    """The innermost frame of an unexpected exception (file:line), for the log only."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb is not None else "?"


_PLAIN = frozenset(("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"))


def _plain_route(scope: Scope) -> str:
    path = scope.get("path", "")
    return path if path in _PLAIN else "unmatched"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            try:
                return str(value.decode("latin-1"))
            except UnicodeDecodeError:
                return None
    return None


# ---- the app -----------------------------------------------------------------------------


def create_app(service: Service, *, load: bool = True) -> ASGIApp:
    """The ASGI app. ``load``: read the policy at start-up (lifespan) and reload on SIGHUP."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if load:
            await service.reload("start")
        loop = asyncio.get_running_loop()
        hooked = False
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(
                signal.SIGHUP, lambda: loop.create_task(service.reload("SIGHUP"))
            )
            hooked = True
        try:
            yield
        finally:
            if hooked:
                loop.remove_signal_handler(signal.SIGHUP)
            await to_thread.run_sync(service.holder.close)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 404)
        message = "no such route (see /openapi.json)" if status == 404 else "method not allowed"
        return json_response(error_body("not_found", message), 405 if status == 405 else 404)

    async def internal(request: Request, exc: Exception) -> Response:
        return json_response(error_body("internal", "internal error (logged)"), 500)

    app = Starlette(
        exception_handlers={404: not_found, 405: not_found, Exception: internal},
        routes=[
            StarletteRoute("/healthz", healthz, methods=["GET"]),
            StarletteRoute("/readyz", readyz, methods=["GET"]),
            StarletteRoute("/metrics", metrics, methods=["GET"]),
            StarletteRoute("/openapi.json", openapi, methods=["GET"]),
            StarletteRoute("/docs", docs, methods=["GET"]),
            StarletteRoute(
                "/v1/{rest:path}", v1, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
            ),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return Observe(app, service)
