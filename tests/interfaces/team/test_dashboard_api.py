"""The dashboard's server side: its pages, whoami, downsampled histories, local trust."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from dashboard_workspace import LAB, LAB_XSS, job_and_stream
from modelport.core.keys import create_key
from modelport.core.store.runs import MetricValue
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.dashboard.pages import DIGEST
from modelport.lifecycle.tracking import create_run

LOCAL = {"X-Modelport-Local": "1"}
# what the dashboard's pages read: runs, models, endpoints and rollouts, jobs, streams,
# devices (and monitoring, from the runs); not studies — their first read opens the Optuna
# storage, seconds — whose listing the auth matrix's test_listings_leave_other_projects_out reads
PAGES = [("POST", "/api/v1/runs/search", {"max_results": 50}), ("GET", "/api/v1/models", None),
         ("GET", "/api/v1/endpoints", None),
         ("GET", "/api/v1/rollouts/active", None), ("GET", "/api/v1/jobs?limit=50", None),
         ("GET", "/api/v1/streams", None), ("GET", "/api/v1/devices", None)]


@pytest.fixture
def reader(ws: Workspace) -> str:
    """A read key's secret, made before the app reads its keys."""
    return create_key("reader", ["read"], ws=ws)[1]


@pytest.fixture
def client(ws: Workspace, reader: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(ws)) as c:
        yield c


@pytest.fixture
def local(ws: Workspace) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(ws, local=True), base_url="http://127.0.0.1:8765") as c:
        yield c


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.mark.storage_independent
def test_the_page_ships_with_a_strict_policy_and_its_modules(client: TestClient) -> None:  # type: ignore[type-arg]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert f'src="/static/{DIGEST}/app.js"' in page.text
    assert f'<link rel="modulepreload" href="/static/{DIGEST}/runs.js">' in page.text
    script = client.get(f"/static/{DIGEST}/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "immutable" in script.headers["cache-control"]
    assert "innerHTML" not in script.text
    assert client.get("/static/app.js").status_code == 404  # only this release's folder
    assert client.get(f"/static/{DIGEST}/../pages.py").status_code == 404
    assert client.get(f"/static/{DIGEST}/%2e%2e/pages.py").status_code == 404
    assert client.get("/api/v1/openapi.json").status_code == 200  # not shadowed by the page


@pytest.mark.storage_independent
def test_whoami_names_the_key_and_its_scopes(reader: str, client: TestClient) -> None:  # type: ignore[type-arg]
    assert ok(client.get("/api/v1/whoami"), 401)["code"] == "unauthorized"
    me = ok(client.get("/api/v1/whoami", headers={"X-API-Key": reader}))
    assert (me["name"], me["scopes"], me["local"]) == ("reader", ["read"], False)
    # the local header means nothing to the team server
    assert client.get("/api/v1/whoami", headers=LOCAL).status_code == 401


def test_a_history_comes_back_cut_to_the_asked_width(ws: Workspace, reader: str,
                                                     client: TestClient) -> None:  # type: ignore[type-arg]
    client.headers["X-API-Key"] = reader
    run = create_run(name="long", ws=ws)
    ws.store.runs.log_batch(run.id, {}, [MetricValue("loss", s, 10.0 if s == 2345 else 1.0)
                                         for s in range(3000)], {}, 0.0)
    got = ok(client.get(f"/api/v1/runs/{run.id}/metrics/loss/buckets", params={"n": 30}))
    assert got["points"] == 3000 and len(got["buckets"]) == 30
    assert sum(b["count"] for b in got["buckets"]) == 3000
    assert max(b["max"] for b in got["buckets"]) == 10.0
    assert ok(client.get(f"/api/v1/runs/{run.id}/metrics/none/buckets")) == \
        {"points": 0, "buckets": []}
    for bad in (0, 5000):
        error = ok(client.get(f"/api/v1/runs/{run.id}/metrics/loss/buckets", params={"n": bad}),
                   400)
        assert "n must be 1 to 4096" in error["error"]
    error = ok(client.get(f"/api/v1/runs/{run.id}/metrics/loss/buckets", params={"n": "x"}), 422)
    assert "'n'" in error["error"]


@pytest.mark.storage_independent
def test_local_trust_needs_loopback_host_same_origin_and_the_header(
        local: TestClient) -> None:  # type: ignore[type-arg]
    me = ok(local.get("/api/v1/whoami", headers=LOCAL))
    assert me["local"] is True and me["scopes"] == ["admin"]
    ok(local.post("/api/v1/runs/search", json={"max_results": 1}, headers=LOCAL))
    # a cross-site form or fetch cannot add the header (CSRF)
    assert local.post("/api/v1/runs/search", json={}).status_code == 401
    # DNS rebinding: the attacker's page is same-origin but names its own host
    rebound = {**LOCAL, "Host": "attacker.example:8765"}
    assert ok(local.get("/api/v1/whoami", headers=rebound), 401)["code"] == "unauthorized"
    assert local.get("/api/v1/whoami", headers={**LOCAL, "Origin": "http://attacker.example"}
                     ).status_code == 401
    assert local.get("/api/v1/whoami", headers={**LOCAL, "Origin": "null"}).status_code == 401
    same = {**LOCAL, "Origin": "http://127.0.0.1:8765"}
    assert ok(local.get("/api/v1/whoami", headers=same))["local"] is True
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
        assert local.get("/api/v1/whoami", headers={**LOCAL, "Host": host}).status_code == 200
    for host in ("127.0.0.1.attacker.example", "localhost.attacker.example:8765", ""):
        assert local.get("/api/v1/whoami", headers={**LOCAL, "Host": host}).status_code == 401


@pytest.mark.storage_independent
def test_a_key_limited_to_one_project_lists_it_alone_and_reads_nothing_of_another(
        ws: Workspace) -> None:
    """Every page's read, by a key limited to project lab: lab's objects and never
    default's; default — or markup for a project name — is no project for it."""
    lab = Workspace.open(dataclasses.replace(ws.settings, project=LAB))
    for where, label, model in ((ws, "only-default", "iris"), (lab, LAB_XSS, "labmodel")):
        create_run(name=label, ws=where).end()
        job_and_stream(where, label, model)
    key = create_key("lab reader", ["read"], ws=ws, projects=[LAB])[1]
    with TestClient(create_app(ws)) as client:
        client.headers["X-API-Key"] = key
        assert ok(client.get("/api/v1/projects")) == [
            {"name": LAB, "runs": 1, "models": 0, "endpoints": 0, "jobs": 1, "streams": 1}]
        for method, url, body in PAGES:
            got = client.request(method, url, json=body, headers={"X-Modelport-Project": LAB})
            assert "only-default" not in ok(got) and "only-default" not in got.text, url
            if url.split("/")[3].split("?")[0] in ("runs", "jobs", "streams"):
                assert LAB_XSS in str(got.json()), url
            refused = client.request(method, url, json=body,
                                     headers={"X-Modelport-Project": "default"})
            assert ok(refused, 404) == {"code": "not_found",
                                        "error": "project 'default' not found"}, url
        # no header is the default project; markup is no project name at all
        assert client.get("/api/v1/models").status_code == 404
        hostile = {"X-Modelport-Project": "<img src=x onerror=alert(1)>"}
        assert ok(client.get("/api/v1/models", headers=hostile), 400)["code"] == "invalid_input"
        feed = client.get("/api/v1/feed?topics=job", headers={"X-Modelport-Project": "default"})
        assert feed.status_code == 404
