"""Request ids, Prometheus series and the JSON access log of the team server."""

from __future__ import annotations

import json
import logging

import pytest
from litestar.testing import TestClient

from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app

pytestmark = pytest.mark.storage_independent


def test_every_response_has_a_request_id_and_only_a_safe_one_is_echoed(ws: Workspace) -> None:
    _, secret = create_key("reader", ["read"], ws=ws)
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(ws)) as c:
        for response in (c.get("/healthz"), c.get("/nowhere"), c.get("/api/v1/models"),
                         c.get("/api/v1/models", headers=auth),
                         c.post("/api/v1/runs/search", headers=auth, content=b"{")):
            assert len(response.headers["x-request-id"]) == 32, response.status_code
        ids = {c.get("/healthz").headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3  # a new one each time
        assert c.get("/healthz", headers={"X-Request-Id": "trace-1.a:b_C"}).headers[
            "x-request-id"] == "trace-1.a:b_C"
        for hostile in (b"x" * 65, b"a b", b'a"b', "a\u00e9b".encode(), b"{run}", b"a%0d%0ab"):
            echoed = c.get("/healthz", headers={"X-Request-Id": hostile}).headers[
                "x-request-id"]
            assert echoed.encode() != hostile and len(echoed) == 32


def test_metrics_count_requests_by_route_template_and_status(ws: Workspace) -> None:
    _, secret = create_key("reader", ["read"], ws=ws)
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(ws)) as c:
        assert c.get("/metrics").status_code == 401
        for _ in range(3):
            c.get("/api/v1/runs/r-secret-id", headers=auth)
        c.get("/no/such/route/abc")
        text = c.get("/metrics", headers=auth).text
    assert ('modelport_server_requests_total{method="GET",route="/api/v1/runs/{run_id}",'
            'status="404"} 3') in text
    assert 'modelport_server_requests_total{method="GET",route="unmatched",status="404"} 1' \
        in text
    assert 'modelport_server_requests_total{method="GET",route="/metrics",status="401"} 1' \
        in text
    assert 'modelport_server_request_duration_seconds_count{route="/api/v1/runs/{run_id}"}' \
        ' 3' in text
    assert "r-secret-id" not in text and "/no/such" not in text  # templates, never raw paths


def test_one_json_access_line_per_request_naming_the_key_never_its_secret(
        ws: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    key, secret = create_key("ci", ["write"], ws=ws)
    with TestClient(create_app(ws)) as c, caplog.at_level(logging.INFO, "modelport.team.access"):
        c.get("/api/v1/runs/ids?prefix=ab&limit=5", headers={
            "Authorization": f"Bearer {secret}", "X-Request-Id": "req-7"})
        c.get("/api/v1/models", headers={"X-API-Key": secret + "x"})
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "modelport.team.access"]
    assert len(lines) == 2
    first, second = lines
    assert {k: first[k] for k in ("request_id", "method", "path", "route", "status", "key")} == {
        "request_id": "req-7", "method": "GET", "path": "/api/v1/runs/ids",
        "route": "/api/v1/runs/ids", "status": 200, "key": key.id}
    assert (second["status"], second["key"]) == (401, None)
    assert first["ms"] >= 0 and first["client"]
    assert not any(secret in r.getMessage() for r in caplog.records)
