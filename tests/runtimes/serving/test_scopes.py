"""Authentication first, scopes everywhere, limits per server: a real 2-worker server.

Its own copy of the model home: keys, an endpoint and published bundles made
here are seen by no other test module.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from servers import Server, serving

BODY = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                    "data": [5.1, 3.5, 1.4, 0.2]}]}


def _copy(model_home: Path, tmp: Path) -> Path:
    home = tmp / "home"
    shutil.copytree(model_home, home)
    return home


@pytest.fixture(scope="module")
def secured(model_home: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Server, dict[str, Any]]]:
    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.runtimes.edge.catalog import record_published

    home = _copy(model_home, tmp_path_factory.mktemp("scopes"))
    ws = Workspace.open(Settings(home=home))
    create_endpoint("ep", "iris:1", ws=ws)
    bundles = {}
    for ref in ("iris:1", "flowers:1"):
        digest = ws.artifacts.put(f"bundle of {ref}".encode())
        record_published(ref, digest, {"group": "g", "percent": 100}, ws=ws)
        bundles[ref.split(":")[0]] = digest
    keys = {
        "admin": create_key("ops", ["admin"], ws=ws)[1],
        "predict": create_key("app", ["predict"], ws=ws)[1],
        "iris": create_key("iris app", ["predict", "read"], models=["iris"], ws=ws)[1],
        "slow": create_key("batch", ["predict"], rate_limit=2, ws=ws)[1],
        "release": create_key("release", ["deploy"], models=["iris"], ws=ws)[1],
    }
    forget_stores()
    with serving(home, "iris", "flowers", "ep", "--workers", "2") as srv:
        yield srv, {"keys": keys, "bundles": bundles}


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


UNAUTHENTICATED = [
    ("POST", "/v2/models/nosuch/infer"),  # today a 404 listing the served names
    ("POST", "/v2/models/iris/versions/%B2/infer"),  # '²': a 500 and a logged traceback
    ("POST", "/v2/models/iris/versions/²/infer"),
    ("GET", "/v2/models/iris/versions/²"),
    ("POST", "/v2/models/iris/infer"),
    ("GET", "/v2/models/nosuch"),
    ("GET", "/v2"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/nosuch"),
    ("POST", "/v1/models/nosuch:predict"),
    ("POST", "/invocations"),
    ("GET", "/metrics"),
    ("GET", "/version"),
    ("GET", "/v2/edge/bundles/" + "0" * 64),
    ("GET", "/nowhere"),
    ("DELETE", "/v2/models/iris"),
]


def test_every_route_but_health_needs_a_key_before_anything_else(secured) -> None:  # type: ignore
    srv, _ = secured
    with srv.client() as c:
        for method, path in UNAUTHENTICATED:
            r = c.request(method, path, content=b"{}")
            assert r.status_code == 401, (method, path, r.text)
            assert "iris" not in r.text and "flowers" not in r.text, (path, r.text)
        for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health", "/"):
            assert c.get(path).status_code == 200, path
        assert c.get("/").json() == {"status": "alive"}  # KServe's is_server_live
    assert "Traceback" not in srv.log.read_text()


def test_a_non_ascii_version_is_a_client_error(secured) -> None:  # type: ignore
    srv, ctx = secured
    with srv.client() as c:
        for version in ("%B2", "²", "١", "9" * 40):
            r = c.post(f"/v2/models/iris/versions/{version}/infer", json=BODY,
                       headers=_auth(ctx["keys"]["admin"]))
            assert r.status_code == 400 and "invalid version" in r.json()["error"], r.text
    assert "Traceback" not in srv.log.read_text()


def test_a_key_for_one_model_reads_only_that_model(secured) -> None:  # type: ignore
    srv, ctx = secured
    keys, bundles = ctx["keys"], ctx["bundles"]
    with srv.client() as c:
        for name in ("iris", "flowers"):  # traffic on both, so both have series
            assert c.post(f"/v2/models/{name}/infer", json=BODY,
                          headers=_auth(keys["admin"])).status_code == 200
        own = c.get("/metrics", headers=_auth(keys["iris"]))
        assert own.status_code == 200 and 'model="iris"' in own.text
        assert 'model="flowers"' not in own.text and 'model=""' not in own.text
        every = c.get("/metrics", headers=_auth(keys["admin"])).text
        assert 'model="flowers"' in every
        assert c.get("/v1/models", headers=_auth(keys["iris"])).json() == {"models": ["iris"]}
        assert set(c.get("/v1/models", headers=_auth(keys["admin"])).json()["models"]) == {
            "ep", "flowers", "iris"}
        assert c.get("/v2/models/iris", headers=_auth(keys["iris"])).status_code == 200
        assert c.get("/v2/models/flowers", headers=_auth(keys["iris"])).status_code == 403
        assert c.get("/v1/models/flowers", headers=_auth(keys["iris"])).status_code == 403
        iris = c.get(f"/v2/edge/bundles/{bundles['iris']}", headers=_auth(keys["iris"]))
        assert iris.status_code == 200 and iris.content == b"bundle of iris:1"
        other = c.get(f"/v2/edge/bundles/{bundles['flowers']}", headers=_auth(keys["iris"]))
        assert other.status_code == 403 and "flowers" in other.json()["error"]
        assert c.get(f"/v2/edge/bundles/{bundles['flowers']}",
                     headers=_auth(keys["admin"])).status_code == 200


def test_a_deploy_key_reads_what_a_read_key_does_and_predicts_nothing(secured
                                                                       ) -> None:  # type: ignore
    """The metadata ladder (read < write < deploy) holds on a replica as on the team server:
    a release pipeline's key reads its model and bundles, and is no predict key."""
    srv, ctx = secured
    key = _auth(ctx["keys"]["release"])
    with srv.client() as c:
        assert c.get("/v2/models/iris", headers=key).status_code == 200
        assert c.get(f"/v2/edge/bundles/{ctx['bundles']['iris']}", headers=key).content == \
            b"bundle of iris:1"
        assert c.get("/v2/models/flowers", headers=key).status_code == 403  # its models only
        assert c.post("/v2/models/iris/infer", json=BODY, headers=key).status_code == 403


def test_a_pinned_endpoint_version_must_be_in_its_policy(secured) -> None:  # type: ignore
    srv, ctx = secured
    keys = ctx["keys"]
    with srv.client() as c:
        inside = c.post("/v2/models/ep/versions/1/infer", json=BODY,
                        headers=_auth(keys["predict"]))
        assert inside.status_code == 200 and inside.headers["x-model-version"] == "iris:1"
        outside = c.post("/v2/models/ep/versions/2/infer", json=BODY,
                         headers=_auth(keys["predict"]))
        assert outside.status_code == 403 and "not in endpoint 'ep'" in outside.json()["error"]
        admin = c.post("/v2/models/ep/versions/2/infer", json=BODY, headers=_auth(keys["admin"]))
        assert admin.status_code == 200 and admin.headers["x-model-version"] == "iris:2"


def test_the_rate_limit_holds_per_server_not_per_worker(secured) -> None:  # type: ignore
    srv, ctx = secured
    statuses = []
    started = time.monotonic()
    for _ in range(24):  # a new connection each: the kernel spreads them over both workers
        with httpx.Client(base_url=srv.url, timeout=10) as c:
            statuses.append(c.post("/v2/models/iris/infer", json=BODY,
                                   headers=_auth(ctx["keys"]["slow"])).status_code)
    elapsed = time.monotonic() - started
    # a burst of 2, then 2 a second — for the server, whichever worker answers
    assert statuses.count(200) <= 2 + 2 * elapsed + 1, (statuses, elapsed)
    assert 429 in statuses


def test_auto_auth_turns_on_when_the_first_key_is_created(model_home, tmp_path) -> None:  # type: ignore
    home = _copy(model_home, tmp_path)
    with serving(home, "iris") as srv, srv.client() as c:
        assert c.post("/v2/models/iris/infer", json=BODY).status_code == 200  # no key yet
        _, secret = create_key("first", ["predict"], ws=Workspace.open(Settings(home=home)))
        forget_stores()
        deadline = time.time() + 10
        while time.time() < deadline and c.post("/v2/models/iris/infer",
                                                 json=BODY).status_code == 200:
            time.sleep(0.2)
        assert c.post("/v2/models/iris/infer", json=BODY).status_code == 401
        assert c.post("/v2/models/iris/infer", json=BODY,
                      headers=_auth(secret)).status_code == 200
