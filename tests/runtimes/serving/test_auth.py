"""API keys on a real server: 401 without, 403 outside scope or model, 429 over the rate."""

from __future__ import annotations

import time

import pytest

from modelport.config import Settings
from modelport.core.keys import create_key, list_keys, revoke_key
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.server import ServeConfig, auth_enabled, is_loopback

BODY = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                    "data": [5.1, 3.5, 1.4, 0.2]}]}


@pytest.fixture(scope="module")
def secured(model_home):  # type: ignore[no-untyped-def]
    from servers import start_server, stop_server

    ws = Workspace.open(Settings(home=model_home))
    keys = {
        "admin": create_key("ops", ["admin"], ws=ws)[1],
        "predict": create_key("app", ["predict"], ws=ws)[1],
        "iris_only": create_key("iris app", ["predict", "read"], models=["iris"], ws=ws)[1],
        "slow": create_key("batch", ["predict"], rate_limit=2, ws=ws)[1],
        "revoked": create_key("old", ["admin"], ws=ws),
    }
    srv = start_server(model_home, "iris", "flowers")
    yield srv, keys, ws
    stop_server(srv)
    for key in list_keys(ws=ws):
        revoke_key(key.id, ws=ws)


def _infer(srv, model: str, key: str | None = None, header: str = "authorization"):  # type: ignore
    headers = {}
    if key:
        headers[header] = f"Bearer {key}" if header == "authorization" else key
    with srv.client() as c:
        return c.post(f"/v2/models/{model}/infer", json=BODY, headers=headers)


def test_keys_are_required_and_checked(secured) -> None:  # type: ignore[no-untyped-def]
    srv, keys, _ = secured
    r = _infer(srv, "iris")
    assert r.status_code == 401 and "API key is required" in r.json()["error"]
    assert _infer(srv, "iris", "mp_nope_nope").status_code == 401
    assert _infer(srv, "iris", keys["predict"]).status_code == 200
    assert _infer(srv, "iris", keys["predict"], header="x-api-key").status_code == 200
    with srv.client() as c:  # probes stay open
        assert c.get("/v2/health/ready").status_code == 200
        r = c.get("/v2/models/iris", headers={"authorization": f"Bearer {keys['predict']}"})
        assert r.status_code == 403 and "may not read" in r.json()["error"]
        assert c.get("/metrics").status_code == 401
        ok = c.get("/metrics", headers={"authorization": f"Bearer {keys['admin']}"})
        assert ok.status_code == 200


def test_a_key_for_one_model_cannot_call_another(secured) -> None:  # type: ignore
    srv, keys, _ = secured
    assert _infer(srv, "iris", keys["iris_only"]).status_code == 200
    r = _infer(srv, "flowers", keys["iris_only"])
    assert r.status_code == 403 and "flowers" in r.json()["error"]


def test_rate_limit(secured) -> None:  # type: ignore[no-untyped-def]
    srv, keys, _ = secured
    statuses = [_infer(srv, "iris", keys["slow"]).status_code for _ in range(6)]
    assert statuses.count(200) <= 3 and 429 in statuses
    limited = next(r for r in (_infer(srv, "iris", keys["slow"]) for _ in range(3))
                   if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and "limit" in limited.json()["error"]


def test_revoked_key_stops_working_without_restart(secured) -> None:  # type: ignore
    srv, keys, ws = secured
    key, secret = keys["revoked"]
    assert _infer(srv, "iris", secret).status_code == 200
    revoke_key(key.id, ws=ws)
    deadline = time.time() + 10
    while time.time() < deadline and _infer(srv, "iris", secret).status_code == 200:
        time.sleep(0.2)
    assert _infer(srv, "iris", secret).status_code == 401
    with pytest.raises(NotFoundError):
        revoke_key(key.id, ws=ws)


def test_keys_are_stored_hashed(secured) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from modelport.core.store import schema as t

    _, keys, ws = secured
    with ws.store.db.read() as conn:  # the SQL store's own rows
        stored = " ".join(str(v) for row in conn.execute(select(t.api_keys)) for v in row)
    assert keys["predict"] not in stored and keys["predict"].split("_", 2)[2] not in stored


def test_bad_key_requests(env_ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match="unknown scope 'launch'"):
        create_key("x", ["launch"])
    with pytest.raises(InvalidInputError, match="positive"):
        create_key("x", ["predict"], rate_limit=0)


def test_no_public_bind_without_auth(env_ws: Workspace) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    with pytest.raises(InvalidInputError, match=r"refusing to serve on 0\.0\.0\.0"):
        auth_enabled(ServeConfig(host="0.0.0.0"))
    assert auth_enabled(ServeConfig(host="0.0.0.0", insecure=True)) is False
    assert auth_enabled(ServeConfig(host="127.0.0.1")) is False
    with pytest.raises(InvalidInputError, match="needs an API key"):
        auth_enabled(ServeConfig(auth="on"))
    create_key("someone", ["predict"])
    assert auth_enabled(ServeConfig(host="0.0.0.0")) is True  # keys exist: auth is on
