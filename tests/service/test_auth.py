"""Tokens: 401 → 403 → 404, by tenant and by scope; digests only; never logged."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from service_support import CALL, JSON, ROOT, Client, write_tokens
from starlette.testclient import TestClient

from policy.service import logs
from policy.service.auth import load_tokens
from policy.support.errors import SchemaError


@pytest.fixture
def secured(make_client: Client, tmp_path: Path, tenants_dir: Path) -> TestClient:
    return make_client(tenants=(str(tenants_dir),), tokens=write_tokens(tmp_path / "tokens.yaml"))


def _decide(client: TestClient, tenant: str, token: str | None) -> int:
    headers = {**JSON}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    answer = client.post(f"/v1/tenants/{tenant}/decide", content=json.dumps(CALL), headers=headers)
    if answer.status_code != 200:
        assert answer.json()["error"]["code"] in ("unauthorized", "forbidden", "not_found")
    return answer.status_code


def test_checks_run_401_then_403_then_404(secured: TestClient) -> None:
    assert _decide(secured, "contoso", None) == 401
    assert _decide(secured, "contoso", "wrong-token") == 401
    assert _decide(secured, "contoso", "switch-token") == 200
    assert _decide(secured, "fabrikam", "switch-token") == 403  # another tenant's
    assert _decide(secured, "nowhere", "switch-token") == 403  # not listed: 403, exists or not
    assert _decide(secured, "nowhere", "admin-token") == 404  # "*": then the tenant is unknown
    assert _decide(secured, "fabrikam", "other-token") == 200
    assert _decide(secured, "nowhere", None) == 401
    bare = secured.post(
        "/v1/tenants/contoso/decide",
        content=json.dumps(CALL),
        headers={**JSON, "authorization": "Basic c3dpdGNoLXRva2Vu"},
    )
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"].startswith("Bearer")


def test_scopes(secured: TestClient) -> None:
    def post(path: str, token: str, body: object) -> int:
        headers = {**JSON, "authorization": f"Bearer {token}"}
        return secured.post(path, content=json.dumps(body), headers=headers).status_code

    charge = {**CALL, "duration": 60}
    assert post("/v1/tenants/contoso/charges", "decide-token", charge) == 403
    assert post("/v1/tenants/contoso/sessions", "decide-token", CALL) == 403
    balance = secured.get(
        "/v1/tenants/contoso/balance", headers={"authorization": "Bearer decide-token"}
    )
    assert balance.status_code == 403
    assert post("/v1/tenants/contoso/charges", "switch-token", charge) == 200
    assert post("/v1/admin/reload", "switch-token", {}) == 403
    assert post("/v1/tenants/contoso/charges", "admin-token", {**charge, "id": "c2"}) == 200
    reload = secured.post("/v1/admin/reload", headers={"authorization": "Bearer admin-token"})
    assert reload.status_code == 200


def test_open_routes_need_no_token(secured: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert secured.get(path).status_code == 200, path


def test_tokens_are_never_logged(make_client: Client, tmp_path: Path) -> None:
    stream = io.StringIO()
    logs.setup(stream)
    try:
        client = make_client(tokens=write_tokens(tmp_path / "tokens.yaml"))
        for token in ("switch-token", "wrong-token"):
            client.post(
                "/v1/tenants/contoso/decide",
                content=json.dumps(CALL),
                headers={**JSON, "authorization": f"Bearer {token}"},
            )
    finally:
        logs.setup()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "request"]
    assert [r["status"] for r in requests] == [200, 401]
    assert requests[0]["call"] == "c1" and requests[0]["tenant"] == "contoso"
    assert set(requests[0]) <= {
        "ts", "level", "event", "request_id", "method", "route", "status", "ms", "tenant", "call",
    }  # fmt: skip
    assert "token" not in stream.getvalue()
    assert "alice" not in stream.getvalue()  # no personal data beyond the call id


def test_a_broken_tokens_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(
        "- {name: a, sha256: NOTHEX, tenants: '*', scopes: [decide]}\n", encoding="utf-8"
    )
    with pytest.raises(SchemaError) as info:
        load_tokens(path)
    assert info.value.finding.path == "[0].sha256"
    twice = "- {name: a, sha256: %s, tenants: '*', scopes: [decide]}\n" % ("ab" * 32)
    path.write_text(twice + twice.replace("name: a", "name: b"), encoding="utf-8")
    with pytest.raises(SchemaError, match="same digest"):
        load_tokens(path)


def test_a_public_host_without_tokens_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "policy", "serve", "--host", "0.0.0.0", "--port", "0"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without --tokens" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_serve_extra_says_how_to_install_it(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['starlette'] = None; "
        "from policy.cli import main; sys.exit(main(['serve', '--port', '0']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3  # every missing extra alike
    assert "pip install 'ccpolicy[serve]'" in done.stderr
    assert "Traceback" not in done.stderr
