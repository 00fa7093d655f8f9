"""Prometheus metrics: requests and latency by route and status, decisions by payer and
denial, reloads by result, open sessions by tenant.

With ``--workers N`` every worker writes its samples to ``$PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode) and ``/metrics`` adds them up, so any worker
answers for the whole server.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The server's metrics, in a registry of its own (several apps in one process — tests —
    do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ccpolicy_http_requests",
            "HTTP requests answered, by route template, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "ccpolicy_http_request_duration_seconds",
            "Time from the request's arrival to its answer, by route template",
            ("route",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "ccpolicy_decisions",
            "Decisions and grants answered, by route, payer and denial code ('' = permitted)",
            ("route", "paid_by", "denial"),
            registry=self.registry,
        )
        self.reloads = Counter(
            "ccpolicy_reloads",
            "Policy reloads, by result: swapped (ok) or refused (the old policy kept serving)",
            ("result",),
            registry=self.registry,
        )
        self.open_sessions = Gauge(
            "ccpolicy_open_sessions",
            "Sessions open in the ledger, by tenant (read from the ledger at scrape time)",
            ("tenant",),
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
