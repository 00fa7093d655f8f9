"""``ccpolicy serve``: decisions, sessions and charges over HTTP.

    app  — the ASGI app (Starlette) and the per-process :class:`~policy.service.app.Service`
    routes — the /v1 routes, matched on the raw path
    auth — bearer tokens (digests, scopes, tenants)
    state — the snapshot of policy, tenants and ledgers; atomic reload
    bodies, errors — reading JSON bodies; the error body
    metrics, logs, openapi — Prometheus, JSON log lines, the OpenAPI document
    runner — uvicorn, workers, signals

Needs the ``serve`` extra (Starlette, uvicorn, prometheus-client) and the ledger's.
"""
