"""Schemathesis against /openapi.json on a real server: bounded examples per operation, no
5xx, every response matching its documented status, content type and schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import Server

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from policy.service.openapi import openapi_document  # noqa: E402

SCHEMA = schemathesis.openapi.from_dict(openapi_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    running = Server(["--ledger", f"sqlite:///{folder / 'l.db'}"], folder)
    try:
        yield running
    finally:
        running.stop()


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_5xx_and_every_response_matches_its_schema(case: object, server: Server) -> None:
    params = getattr(case, "path_parameters", None)
    if params and "tenant" in params and len(str(params["tenant"])) % 2 == 0:
        params["tenant"] = "contoso"  # half the cases reach a real tenant's ledger
    call: Callable[..., object] = case.call_and_validate  # type: ignore[attr-defined]
    call(base_url=server.url, checks=CHECKS)
