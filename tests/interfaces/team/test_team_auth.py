"""The team server's keys: none means 401, the wrong scope 403, revoking works within 2 s."""

from __future__ import annotations

import time

import pytest
from litestar.testing import TestClient

from modelport.core.keys import create_key, list_keys, revoke_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.access import bootstrap_key

pytestmark = pytest.mark.storage_independent


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_every_api_route_needs_a_key_and_its_scope(ws: Workspace) -> None:
    _, reader = create_key("reader", ["read"], ws=ws)
    _, writer = create_key("ci", ["write"], ws=ws)
    _, predictor = create_key("app", ["predict"], ws=ws)
    with TestClient(create_app(ws)) as c:
        spec = c.get("/api/v1/openapi.json").json()
        for path, item in spec["paths"].items():
            for method in item:
                url = path.replace("{version}", "1").replace("{", "").replace("}", "")
                response = c.request(method.upper(), url)
                assert response.status_code == 401, (method, path)
                if method != "head":  # a HEAD answer has no body, only the status
                    assert response.json()["code"] == "unauthorized"
        assert c.get("/api/v1/models", headers=bearer("mp_x_forged")).status_code == 401
        assert c.get("/api/v1/models", headers=bearer(predictor)).json()["code"] == "forbidden"
        assert c.get("/api/v1/models", headers=bearer(reader)).status_code == 200
        denied = c.delete("/api/v1/models/iris", headers=bearer(reader))
        assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
        # write implies read: the key that logs a run may read it back
        assert c.get("/api/v1/models", headers=bearer(writer)).status_code == 200
        assert c.delete("/api/v1/models/iris", headers=bearer(writer)).status_code == 404


def test_a_key_is_read_from_its_own_header_only(ws: Workspace) -> None:
    """X-API-Key or Authorization, in any case; a second Authorization header cannot
    replace the first, and a key in another header is no key."""
    _, secret = create_key("reader", ["read"], ws=ws)
    with TestClient(create_app(ws)) as c:
        assert c.get("/api/v1/models", headers={"x-api-key": secret}).status_code == 200
        assert c.get("/api/v1/models", headers={"AUTHORIZATION": f"bearer {secret}"}
                     ).status_code == 200
        twice = [("Authorization", "Bearer mp_x_forged"), ("Authorization", f"Bearer {secret}")]
        assert c.get("/api/v1/models", headers=twice).status_code == 401
        assert c.get("/api/v1/models", headers={"X-Token": secret}).status_code == 401


def test_auth_off_lets_every_call_through_and_makes_no_key(ws: Workspace) -> None:
    with TestClient(create_app(ws, auth=False)) as c:
        assert c.get("/api/v1/models").json() == []
        assert c.get("/api/v1/runs/nope").json()["code"] == "not_found"
    assert list_keys(ws) == []


def test_a_revoked_key_stops_working_without_a_restart(ws: Workspace) -> None:
    key, secret = create_key("soon gone", ["read"], ws=ws)
    with TestClient(create_app(ws, refresh_s=0.05)) as c:
        assert c.get("/api/v1/models", headers=bearer(secret)).status_code == 200
        revoke_key(key.id, ws=ws)
        time.sleep(0.1)
        assert c.get("/api/v1/models", headers=bearer(secret)).status_code == 401


def test_bootstrap_key_is_made_once_and_only_its_hash_is_stored(ws: Workspace) -> None:
    secret = bootstrap_key(ws)
    assert secret is not None and bootstrap_key(ws) is None
    [key] = list_keys(ws)
    assert key.scopes == ("admin",) and secret not in str(ws.store.keys.active_keys_by_digest())
    with TestClient(create_app(ws)) as c:
        assert c.get("/api/v1/models", headers=bearer(secret)).status_code == 200


def test_a_key_made_or_revoked_through_the_server_counts_from_the_next_request(
        ws: Workspace) -> None:
    """``modelport keys create`` then ``modelport login`` at once: no two-second wait
    for the key table (nor after a revoke) on the server that took the change."""
    from modelport.core.keys import digest

    admin = bootstrap_key(ws)
    assert admin is not None
    with TestClient(create_app(ws, refresh_s=3600)) as c:
        assert c.get("/api/v1/models", headers=bearer(admin)).status_code == 200  # loaded
        secret = "mp_k1_fresh"
        record = {"id": "k1", "name": "new", "scopes": ["read"], "models": None,
                  "rate_limit": None, "created": time.time(), "revoked": None,
                  "projects": None}
        made = c.post("/api/v1/keys", headers=bearer(admin),
                      json={"key": record, "digest": digest(secret)})
        assert made.status_code == 201, made.text
        assert c.get("/api/v1/models", headers=bearer(secret)).status_code == 200
        revoked = c.post("/api/v1/keys/k1/revoke", headers=bearer(admin),
                         json={"now": time.time()})
        assert revoked.status_code == 200, revoked.text
        assert c.get("/api/v1/models", headers=bearer(secret)).status_code == 401
