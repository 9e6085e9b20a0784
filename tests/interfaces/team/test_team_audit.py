"""The audit log: every write by a known key (who, what, when), read back by an admin."""

from __future__ import annotations

import time

from litestar.testing import TestClient

from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app

RUN = {"id": "r1", "name": "first", "experiment": "exp", "status": "running", "start_time": 1.0,
       "end_time": None, "duration": None, "dataset_digest": None, "git_commit": None,
       "packages": {}}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_write_is_recorded_with_its_key_and_only_admins_read_it(ws: Workspace) -> None:
    admin, admin_secret = create_key("root", ["admin"], ws=ws)
    writer, secret = create_key("ci", ["write"], ws=ws)
    _, reader = create_key("viewer", ["read"], ws=ws)
    before = time.time()
    with TestClient(create_app(ws)) as c:
        assert c.post("/api/v1/runs", json=RUN, headers={
            **bearer(secret), "X-Request-Id": "create-1"}).status_code == 201
        c.post("/api/v1/runs/r1/batch", json={"now": 2.0, "params": {"a": "1"}},
               headers=bearer(secret))
        c.post("/api/v1/runs/nope/batch", json={"now": 2.0, "params": {"a": "1"}},
               headers=bearer(secret))  # 404
        c.get("/api/v1/runs/r1", headers=bearer(secret))  # reads are not writes
        c.post("/api/v1/runs/search", json={}, headers=bearer(secret))
        c.delete("/api/v1/runs/r1")  # no key: nothing changed, nothing recorded
        c.delete("/api/v1/runs/r1", headers=bearer(reader))  # a known key refused: recorded
        assert c.get("/api/v1/audit", headers=bearer(secret)).json()["code"] == "forbidden"
        log = c.get("/api/v1/audit", headers=bearer(admin_secret)).json()
        assert [(e["method"], e["route"], e["path"], e["status"], e["key_name"]) for e in log] == [
            ("DELETE", "/api/v1/runs/{run_id}", "/api/v1/runs/r1", 403, "viewer"),
            ("POST", "/api/v1/runs/{run_id}/batch", "/api/v1/runs/nope/batch", 404, "ci"),
            ("POST", "/api/v1/runs/{run_id}/batch", "/api/v1/runs/r1/batch", 204, "ci"),
            ("POST", "/api/v1/runs", "/api/v1/runs", 201, "ci")]
        oldest = log[-1]
        assert (oldest["key_id"], oldest["request_id"]) == (writer.id, "create-1")
        assert before <= oldest["at"] <= time.time()
        assert all(secret not in str(e) for e in log)
        page = c.get("/api/v1/audit", params={"limit": 2, "before": log[1]["id"]},
                     headers=bearer(admin_secret)).json()
        assert [e["id"] for e in page] == [log[2]["id"], log[3]["id"]]
        mine = c.get("/api/v1/audit", params={"key": writer.id},
                     headers=bearer(admin_secret)).json()
        assert len(mine) == 3 and {e["key_name"] for e in mine} == {"ci"}
        assert c.get("/api/v1/audit", params={"limit": 0}, headers=bearer(admin_secret)
                     ).json()["code"] == "invalid_input"
        c.put("/api/v1/models/iris/aliases/champion", json={"version": 1},
              headers=bearer(secret))  # its entry is pending when the server stops
    assert admin.id not in {e["key_id"] for e in log}
    stored = ws.store.audit.entries(10, None, None, None)  # type: ignore[attr-defined]
    assert stored[0]["route"] == "/api/v1/models/{name}/aliases/{alias}"  # flushed on stop


def test_with_auth_off_writes_are_recorded_as_the_loopback_owner(ws: Workspace) -> None:
    with TestClient(create_app(ws, auth=False)) as c:
        c.post("/api/v1/runs", json=RUN)
        assert [(e["key_id"], e["status"]) for e in c.get("/api/v1/audit").json()] == [
            ("local", 201)]
