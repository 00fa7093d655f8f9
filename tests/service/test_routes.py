"""Every route and status code of the service, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import CALL, JSON, Client, write_tenant
from starlette.testclient import TestClient

from policy.data.validation import validate
from policy.ledger import Ledger


def _post(client: TestClient, path: str, body: Any, **headers: str) -> Any:
    return client.post(path, content=json.dumps(body), headers={**JSON, **headers})


def _valid(record: Any, schema: str) -> None:
    assert validate(record, schema) == [], record


# ---- plumbing ------------------------------------------------------------------------------


def test_health_ready_metrics_openapi_docs(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["tenants"] == ["contoso"]
    assert ready.json()["last_reload"] == {"ok": True, "findings": []}
    _post(client, "/v1/tenants/contoso/decide", CALL)
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'ccpolicy_http_requests_total{method="POST",route="/v1/tenants/{tenant}/decide"' in text
    assert 'ccpolicy_decisions_total{denial="",paid_by="credits",route="decide"} 1.0' in text
    assert 'ccpolicy_reloads_total{result="ok"} 1.0' in text
    assert 'ccpolicy_open_sessions{tenant="contoso"} 0.0' in text
    document = client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    assert {"call", "decision", "grant", "balance", "error"} <= set(
        document["components"]["schemas"]
    )
    assert "/v1/tenants/{tenant}/sessions/{call_id}/end" in document["paths"]
    page = client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "/v1/tenants/{tenant}/decide" in page.text


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    given = client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


# ---- decisions -------------------------------------------------------------------------------


def test_decide_is_the_ledgers_decision_and_writes_nothing(
    client: TestClient, tmp_path: Path
) -> None:
    answer = _post(client, "/v1/tenants/contoso/decide", CALL)
    assert answer.status_code == 200
    record = answer.json()
    _valid(record, "decision")
    assert record["permitted"] is True and record["max_duration"] > 0
    with Ledger(f"sqlite:///{tmp_path / 'ledger0.db'}") as ledger:  # the same database
        ledger.tenant = _example_tenant()
        assert ledger.authorize(CALL).to_dict() == record
    priced = _post(client, "/v1/tenants/contoso/decide", {**CALL, "duration": 60}).json()
    assert priced["cost"] == {"amount": "0.02", "currency": "USD"}
    balance = client.get("/v1/tenants/contoso/balance").json()
    assert balance["balance"] == "50.00"  # decide charged nothing
    _valid(balance, "balance")


def _example_tenant() -> Any:
    import policy
    from policy.service.state import default_tenant_path

    return policy.Tenant.from_file(default_tenant_path())


def test_a_denial_and_an_unknown_user_are_decisions(client: TestClient) -> None:
    answer = _post(client, "/v1/tenants/contoso/decide", {**CALL, "user": "nobody@contoso.com"})
    assert answer.status_code == 200
    assert answer.json()["permitted"] is False
    assert answer.json()["denial"] == "unknown_user"


def test_charges_are_idempotent_by_call_id(client: TestClient) -> None:
    call = {**CALL, "id": "charged-1", "duration": 60}
    first = _post(client, "/v1/tenants/contoso/charges", call)
    assert first.status_code == 200 and "ccpolicy-replayed" not in first.headers
    _valid(first.json(), "decision")
    again = _post(client, "/v1/tenants/contoso/charges", call)
    assert again.json() == first.json()
    assert again.headers["ccpolicy-replayed"] == "true"
    assert client.get("/v1/tenants/contoso/balance").json()["balance"] == "49.98"


def test_a_charge_needs_a_duration(client: TestClient) -> None:
    answer = _post(client, "/v1/tenants/contoso/charges", CALL)
    assert answer.status_code == 400
    assert answer.json()["error"]["findings"][0]["path"] == "duration"


# ---- sessions -------------------------------------------------------------------------------


def test_a_session_begins_updates_and_ends(client: TestClient) -> None:
    base = "/v1/tenants/contoso/sessions"
    call = {**CALL, "id": "sip/abc@host"}  # a Call-ID with a slash
    grant = _post(client, base, call)
    assert grant.status_code == 200
    _valid(grant.json(), "grant")
    assert grant.json()["grant"]["seconds"] == 300
    assert client.get("/metrics").text.count('ccpolicy_open_sessions{tenant="contoso"} 1.0') == 1
    path = f"{base}/sip%2Fabc@host"
    again = _post(client, base, call)
    assert again.json() == grant.json()  # begin of an open session: its current grant
    update = _post(client, f"{path}/update", {"used": 290})
    assert update.status_code == 200
    _valid(update.json(), "grant")
    assert update.json()["max_duration"] == 590
    end = _post(client, f"{path}/end", {"used": 415})
    assert end.status_code == 200
    _valid(end.json(), "decision")
    assert end.json()["billable_seconds"] == 415
    assert _post(client, f"{path}/end", {"used": 415}).json() == end.json()
    late = _post(client, f"{path}/update", {"used": 500})
    assert late.status_code == 409 and late.json()["error"]["code"] == "conflict"
    ended_again = _post(client, base, call)
    assert ended_again.status_code == 409


def test_session_conflicts_and_unknown_sessions(client: TestClient) -> None:
    base = "/v1/tenants/contoso/sessions"
    assert _post(client, base, {**CALL, "id": "s1"}).status_code == 200
    other = _post(client, base, {**CALL, "id": "s1", "to": "+14255550123"})
    assert other.status_code == 409
    charge = _post(client, "/v1/tenants/contoso/charges", {**CALL, "id": "s1", "duration": 5})
    assert charge.status_code == 409
    missing = _post(client, f"{base}/nope/end", {"used": 1})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    backwards = _post(client, f"{base}/s1/update", {"used": 10})
    assert backwards.status_code == 200
    smaller = _post(client, f"{base}/s1/update", {"used": 5})
    assert smaller.status_code == 400
    bad = _post(client, f"{base}/s1/update", {"used": -1})
    assert bad.status_code == 400
    assert bad.json()["error"]["findings"][0]["path"] == "used"
    too_long = _post(client, f"{base}/s1/end", {"used": 10**30})
    assert too_long.status_code == 400


def test_a_denied_begin_stores_no_session(make_client: Client, tmp_path: Path) -> None:
    folder = tmp_path / "poor"
    folder.mkdir()
    write_tenant(
        folder,
        "poor",
        credits={"balance": "0.00", "funding": "one_time", "payment": "ok"},
    )
    client = make_client(tenants=(str(folder),))
    grant = _post(client, "/v1/tenants/poor/sessions", {**CALL, "id": "d1"})
    assert grant.status_code == 200
    record = grant.json()
    _valid(record, "grant")
    assert record["permitted"] is False
    assert record["grant"] == {"seconds": 0, "final": True, "valid_until": None}
    assert _post(client, "/v1/tenants/poor/sessions/d1/update", {"used": 1}).status_code == 404


def test_sessions_are_per_tenant(make_client: Client, tenants_dir: Path) -> None:
    client = make_client(tenants=(str(tenants_dir),))
    for tenant in ("contoso", "fabrikam"):
        answer = _post(client, f"/v1/tenants/{tenant}/sessions", {**CALL, "id": "same"})
        assert answer.status_code == 200
    end = _post(client, "/v1/tenants/contoso/sessions/same/end", {"used": 30})
    assert end.status_code == 200
    still = _post(client, "/v1/tenants/fabrikam/sessions/same/update", {"used": 30})
    assert still.status_code == 200


# ---- bad input ---------------------------------------------------------------------------------


def _raw(call: dict[str, Any], **fields: str) -> bytes:
    """``call`` as JSON with some fields written verbatim (numbers json.dumps refuses)."""
    text = json.dumps(call)[:-1]
    return (text + "".join(f', "{k}": {v}' for k, v in fields.items()) + "}").encode()


def test_bad_input_is_a_4xx_with_the_error_body(make_client: Client) -> None:
    client = make_client(max_body=16384)
    decide = "/v1/tenants/contoso/decide"
    cases = [
        (client.post(decide, content=b"{not json", headers=JSON), 400, "bad_json"),
        (client.post(decide, content=b"\xff\xfe", headers=JSON), 400, "bad_json"),
        (client.post(decide, content=b"[" * 5000 + b"]" * 5000, headers=JSON), 400, "bad_json"),
        (client.post(decide, content=b"[" * 40 + b"]" * 40, headers=JSON), 400, "bad_json"),
        (client.post(decide, content=b'{"id": "\\ud800"}', headers=JSON), 400, "bad_json"),
        (client.post(decide, content=b'{"duration": NaN}', headers=JSON), 400, "bad_json"),
        (
            client.post(decide, content=b'{"duration": ' + b"9" * 5000 + b"}", headers=JSON),
            400,
            "bad_json",
        ),
        (client.post(decide, content=_raw(CALL, duration="1e400"), headers=JSON), 400, "invalid"),
        (_post(client, decide, {**CALL, "to": "12-34"}), 400, "invalid"),
        (_post(client, decide, {**CALL, "to": "+999123"}), 400, "invalid"),
        (_post(client, decide, [CALL]), 400, "invalid"),
        (client.post(decide, content=json.dumps(CALL)), 415, "unsupported_media_type"),
        (
            client.post(decide, content=json.dumps(CALL), headers={"content-type": "text/plain"}),
            415,
            "unsupported_media_type",
        ),
        (_post(client, decide, {**CALL, "id": "x" * 20000}), 413, "too_large"),
        (_post(client, "/v1/tenants/nobody/decide", CALL), 404, "not_found"),
        (client.get("/v1/nowhere"), 404, "not_found"),
        (client.get("/nowhere"), 404, "not_found"),
        (client.get(decide), 405, "not_found"),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, (status, answer.text)
        body = answer.json()
        _valid(body, "error")
        assert body["error"]["code"] == code, body
    schema = _post(client, decide, {**CALL, "to": "12-34", "direction": "sideways"}).json()
    paths = sorted(f["path"] for f in schema["error"]["findings"])
    assert paths == ["direction", "to"]
    charset = client.post(
        decide,
        content=json.dumps(CALL),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert charset.status_code == 200


def test_not_ready_without_a_clean_policy(make_client: Client, rules_copy: Path) -> None:
    (rules_copy / "zz_broken.ccp").write_text("scenario oops\n", encoding="utf-8")
    client = make_client(rules=str(rules_copy))
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    _valid(body, "error")
    assert body["error"]["code"] == "not_ready"
    assert any("zz_broken.ccp" in f.get("location", "") for f in body["error"]["findings"])
    decide = _post(client, "/v1/tenants/contoso/decide", CALL)
    assert decide.status_code == 503
    assert client.get("/healthz").status_code == 200


def test_reload_swaps_a_clean_policy_and_refuses_a_broken_one(
    make_client: Client, rules_copy: Path
) -> None:
    client = make_client(rules=str(rules_copy))
    assert client.get("/readyz").json()["generation"] == 1
    broken = rules_copy / "zz_broken.ccp"
    broken.write_text("scenario oops\n", encoding="utf-8")
    refused = client.post("/v1/admin/reload")
    assert refused.status_code == 400
    _valid(refused.json(), "error")
    assert refused.json()["error"]["findings"]
    assert _post(client, "/v1/tenants/contoso/decide", CALL).status_code == 200  # old policy
    ready = client.get("/readyz").json()
    assert ready["generation"] == 1 and ready["last_reload"]["ok"] is False
    assert ready["last_reload"]["findings"]
    broken.unlink()
    swapped = client.post("/v1/admin/reload")
    assert swapped.status_code == 200
    assert swapped.json()["reloaded"] is True and swapped.json()["generation"] >= 2
    assert client.get("/readyz").json()["last_reload"]["ok"] is True
    assert 'ccpolicy_reloads_total{result="refused"} 1.0' in client.get("/metrics").text


def test_an_unexpected_error_is_a_json_500_without_a_traceback(
    client: TestClient, monkeypatch: Any
) -> None:
    from policy.service import routes

    def boom(*_args: Any) -> Any:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(routes, "call_from_mapping", boom)
    answer = _post(client, "/v1/tenants/contoso/decide", CALL)
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"code": "internal", "message": "internal error (logged)", "findings": []}
    }
    assert "secret detail" not in answer.text and "Traceback" not in answer.text
