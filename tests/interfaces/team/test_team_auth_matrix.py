"""The auth matrix on a real server: role × project × model × route.

Every route the app serves under ``/api/v1`` is in ``ROUTES`` with the role it needs
— read from the app itself, so a route added without an entry here fails the test
instead of escaping it. Each is called by every kind of key, about the key's own
project and about another one: no key 401, a project the key does not reach 404
(exactly as a project that does not exist), too small a role 403, else the route
answers as the route (2xx for a read in the key's own project). Another project's
objects, named under the key's own project, answer exactly as absent ones do.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.routes import HTTPRoute

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store import open_artifacts
from modelport.core.store.rest import RestStore
from modelport.core.workspace import Workspace
from modelport.errors import NotFoundError
from modelport.interfaces.team import create_app
from team_server import team_server

pytestmark = pytest.mark.storage_independent  # the store's side is the conformance suite's

# every route of the API and the role it needs (the ladder: read < write < deploy < admin)
ROUTES = {
    ("POST", "/api/v1/runs"): "write",
    ("POST", "/api/v1/runs/{run_id:str}/batch"): "write",
    ("POST", "/api/v1/runs/{run_id:str}/artifacts"): "write",
    ("POST", "/api/v1/runs/{run_id:str}/datasets"): "write",
    ("POST", "/api/v1/runs/{run_id:str}/end"): "write",
    ("GET", "/api/v1/runs/{run_id:str}"): "read",
    ("DELETE", "/api/v1/runs/{run_id:str}"): "write",
    ("GET", "/api/v1/runs/{run_id:str}/metrics/{key:str}"): "read",
    ("GET", "/api/v1/runs/{run_id:str}/metrics/{key:str}/buckets"): "read",
    ("POST", "/api/v1/runs/get"): "read",
    ("GET", "/api/v1/runs/ids"): "read",
    ("POST", "/api/v1/runs/search"): "read",
    ("GET", "/api/v1/models"): "read",
    ("GET", "/api/v1/models/{name:str}"): "read",
    ("DELETE", "/api/v1/models/{name:str}"): "write",
    ("GET", "/api/v1/models/{name:str}/exists"): "read",
    ("GET", "/api/v1/models/{name:str}/versions"): "read",
    ("POST", "/api/v1/models/{name:str}/versions"): "write",
    ("POST", "/api/v1/models/versions:batch"): "write",
    ("GET", "/api/v1/models/{name:str}/versions/{version:int}"): "read",
    ("DELETE", "/api/v1/models/{name:str}/versions/{version:int}"): "write",
    ("POST", "/api/v1/models/{name:str}/pick"): "read",
    ("PUT", "/api/v1/models/{name:str}/aliases/{alias:str}"): "deploy",
    ("DELETE", "/api/v1/models/{name:str}/aliases/{alias:str}"): "deploy",
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/tags/{key:str}"): "write",
    ("PUT", "/api/v1/models/{name:str}/description"): "write",
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/onnx"): "write",
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/profile"): "write",
    ("GET", "/api/v1/registry/tags/{key:str}"): "read",
    ("POST", "/api/v1/registry/digests/referenced"): "read",
    ("POST", "/api/v1/endpoints"): "deploy",
    ("GET", "/api/v1/endpoints"): "read",
    ("GET", "/api/v1/endpoints/revisions"): "read",
    ("GET", "/api/v1/endpoints/{name:str}"): "read",
    ("DELETE", "/api/v1/endpoints/{name:str}"): "deploy",
    ("PUT", "/api/v1/endpoints/{name:str}/policy"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollouts"): "deploy",
    ("GET", "/api/v1/endpoints/{name:str}/rollouts"): "read",
    ("POST", "/api/v1/endpoints/{name:str}/rollouts/{rollout_id:str}/transitions"): "deploy",
    ("GET", "/api/v1/endpoints/{name:str}/rollouts/active"): "read",
    ("GET", "/api/v1/endpoints/{name:str}/rollouts/latest"): "read",
    ("GET", "/api/v1/rollouts/active"): "read",
    ("GET", "/api/v1/endpoints/{name:str}/rollout"): "read",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/canary"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/bluegreen"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/shadow"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/pause"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/resume"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/promote"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/abort"): "deploy",
    ("POST", "/api/v1/endpoints/{name:str}/rollout/rollback"): "deploy",
    ("GET", "/api/v1/jobs"): "read",
    ("POST", "/api/v1/jobs"): "write",
    ("GET", "/api/v1/jobs/find"): "read",
    ("GET", "/api/v1/jobs/{job_id:str}"): "read",
    ("POST", "/api/v1/jobs/{job_id:str}/restart"): "write",
    ("PUT", "/api/v1/jobs/{job_id:str}/progress"): "write",
    ("POST", "/api/v1/jobs/{job_id:str}/finish"): "write",
    ("GET", "/api/v1/keys"): "admin",
    ("POST", "/api/v1/keys"): "admin",
    ("GET", "/api/v1/keys/active"): "admin",
    ("POST", "/api/v1/keys/{key_id:str}/revoke"): "admin",
    ("POST", "/api/v1/stats/windows"): "write",
    ("GET", "/api/v1/stats/{endpoint:str}"): "read",
    ("PUT", "/api/v1/streams/{name:str}/{consumer:str}"): "write",
    ("GET", "/api/v1/streams/{name:str}/{consumer:str}"): "read",
    ("GET", "/api/v1/streams"): "read",
    ("POST", "/api/v1/streams/{name:str}/{consumer:str}/heartbeat"): "write",
    ("PUT", "/api/v1/streams/{name:str}/{consumer:str}/checkpoint"): "write",
    ("POST", "/api/v1/artifacts/{digest:str}/touch"): "write",
    ("POST", "/api/v1/artifacts:gc"): "admin",
    ("HEAD", "/api/v1/artifacts/{digest:str}"): "read",
    ("GET", "/api/v1/artifacts/{digest:str}"): "read",
    ("PUT", "/api/v1/artifacts/{digest:str}"): "write",
    ("GET", "/api/v1/feed"): "read",
    ("GET", "/api/v1/audit"): "admin",
    ("POST", "/api/v1/studies/read/{method:str}"): "read",
    ("POST", "/api/v1/studies/write/{method:str}"): "write",
    ("GET", "/api/v1/studies"): "read",
    ("GET", "/api/v1/studies/detail"): "read",
    ("GET", "/api/v1/studies/importances"): "read",
    ("GET", "/api/v1/studies/trials"): "read",
    ("GET", "/api/v1/devices"): "read",
    ("POST", "/api/v1/devices"): "write",
    ("POST", "/api/v1/models/{name:str}/versions/{version:int}/export-onnx"): "write",
    ("GET", "/api/v1/endpoints/{name:str}/live"): "read",
    ("PUT", "/api/v1/runs/{run_id:str}"): "write",
    ("GET", "/api/v1/projects"): "read",
    ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}"): "read",
    ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}/{hour:str}/{file:str}"): "read",
    ("PUT", "/api/v1/prediction-logs/{model:str}/{version:int}/{hour:str}/{file:str}"): "write",
    ("DELETE", "/api/v1/prediction-logs/{model:str}/{version:int}"): "admin",
    ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}/labels"): "read",
    ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}/labels/{hour:str}/{file:str}"):
        "read",
    ("PUT", "/api/v1/prediction-logs/{model:str}/{version:int}/labels/{hour:str}/{file:str}"):
        "write",
    ("GET", "/api/v1/prediction-logs/orphans"): "admin",
    ("DELETE", "/api/v1/prediction-logs/orphans"): "admin",
}
# routes about every project the key reaches, not the one the request names: no 404
ACROSS = {("GET", "/api/v1/projects")}
# routes open without a key, on purpose: the API's description and who the caller is
OPEN = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/openapi.json/{path:str}"),
        ("GET", "/api/v1/openapi.json/openapi.json"), ("GET", "/api/v1/whoami")}
# names are unique across projects: registering under a name another project holds is
# refused as a name taken (the one thing another project's object reveals: its name)
TAKEN = {("POST", "/api/v1/models/{name:str}/versions"),
         ("PUT", "/api/v1/runs/{run_id:str}"),  # a whole run: created if new
         ("PUT", "/api/v1/streams/{name:str}/{consumer:str}")}  # a consumer: started
RANK = {"read": 1, "write": 2, "deploy": 3, "admin": 4}
# reads that answer 404 in the key's own project for a reason of their own
OWN_404 = {("GET", "/api/v1/endpoints/{name:str}/rollout"): "the endpoint has had no rollout",
           ("GET", "/api/v1/studies/detail"): "no such study",
           ("GET", "/api/v1/studies/importances"): "no such study",
           ("GET", "/api/v1/studies/trials"): "no such study",
           ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}/{hour:str}/{file:str}"):
               "no such file",
           ("GET", "/api/v1/prediction-logs/{model:str}/{version:int}/labels/{hour:str}/"
                   "{file:str}"): "no such file"}

BLOB = b"model bytes"
DIGEST = hashlib.sha256(BLOB).hexdigest()
ONE = {"routes": [{"version": "ma:1", "weight": 100.0}]}
ROLLOUT = {"id": "ro1", "endpoint": "ea", "kind": "canary", "state": "running",
           "stable": "ma:1", "candidate": "ma:1", "config": {}, "step": 0, "step_started": 2.0,
           "revision": 1, "created": 2.0, "updated": 2.0}
EVENT = {"at": 2.0, "action": "start", "state": "running", "reason": "", "metrics": None}
VERSION = {"format": "sklearn", "artifact_digest": DIGEST, "artifact_size": len(BLOB),
           "sample_digest": None, "signature": {}, "input_example": None, "metrics": {},
           "run_id": None, "dataset_digest": None, "description": ""}
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/runs"): {"id": "new-run", "name": "n", "experiment": "default",
                               "status": "RUNNING", "start_time": 1.0, "end_time": None,
                               "duration": None, "dataset_digest": None, "git_commit": None,
                               "packages": {}},
    ("POST", "/api/v1/runs/{run_id:str}/batch"): {"now": 1.0, "metrics": [
        {"key": "acc", "value": 0.5, "step": 1}]},
    ("POST", "/api/v1/runs/{run_id:str}/artifacts"): {"path": "m", "digest": DIGEST,
                                                      "size": 1},
    ("POST", "/api/v1/runs/{run_id:str}/datasets"): {"digest": "c" * 64, "name": "d",
                                                     "rows": 1, "columns": ["a"], "now": 1.0},
    ("POST", "/api/v1/runs/{run_id:str}/end"): {"status": "FINISHED", "end_time": 2.0,
                                                "duration": 1.0},
    ("POST", "/api/v1/runs/get"): {"ids": ["RUN"]},
    ("PUT", "/api/v1/runs/{run_id:str}"): {"run": {"id": "RUN", "name": "n",
                                                   "experiment": "default",
                                                   "status": "FINISHED", "start_time": 1.0,
                                                   "end_time": 2.0, "duration": 1.0,
                                                   "dataset_digest": None,
                                                   "git_commit": None, "packages": {}},
                                           "now": 2.0},
    ("POST", "/api/v1/runs/search"): {"order_by": ["attributes.start_time DESC"]},
    ("POST", "/api/v1/models/{name:str}/versions"): {"version": VERSION, "now": 2.0},
    # the model a key limited to models is limited to (in beta: alpha's name, taken)
    ("POST", "/api/v1/models/versions:batch"): {"versions": [{"name": "ma", "version": VERSION}],
                                                "now": 2.0},
    ("POST", "/api/v1/models/{name:str}/pick"): {"aliases": ["champion"]},
    ("PUT", "/api/v1/models/{name:str}/aliases/{alias:str}"): {"version": 1},
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/tags/{key:str}"): {
        "value": "v"},
    ("PUT", "/api/v1/models/{name:str}/description"): {"description": "d"},
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/onnx"): {"ok": False},
    ("PUT", "/api/v1/models/{name:str}/versions/{version:int}/profile"): {
        "digest": "e" * 64},
    ("POST", "/api/v1/registry/digests/referenced"): {"digests": [DIGEST]},
    ("POST", "/api/v1/endpoints"): {"name": "new-endpoint", "policy": ONE, "now": 1.0},
    ("PUT", "/api/v1/endpoints/{name:str}/policy"): {"policy": ONE, "now": 3.0},
    ("POST", "/api/v1/endpoints/{name:str}/rollouts"): {"rollout": ROLLOUT, "policy": ONE,
                                                        "event": EVENT},
    ("POST", "/api/v1/endpoints/{name:str}/rollout/promote"): {},
    ("POST", "/api/v1/endpoints/{name:str}/rollout/abort"): {},
    ("POST", "/api/v1/jobs/{job_id:str}/restart"): {"options": {}},
    ("PUT", "/api/v1/jobs/{job_id:str}/progress"): {"rows": 1, "rows_failed": 0, "parts": 1},
    ("POST", "/api/v1/jobs/{job_id:str}/finish"): {"status": "succeeded", "ended": 2.0,
                                                   "duration": 1.0},
    ("POST", "/api/v1/stats/windows"): {"rows": [], "worker": "w", "forget_before": 0.0},
    ("PUT", "/api/v1/streams/{name:str}/{consumer:str}"): {"model": "ma:1", "config": {},
                                                           "now": 1.0},
}
QUERIES = {("GET", "/api/v1/runs/ids"): {"prefix": "r"},
           ("GET", "/api/v1/jobs/find"): {"prefix": "j"},
           ("GET", "/api/v1/studies/detail"): {"name": "no-study"},
           ("GET", "/api/v1/studies/importances"): {"name": "no-study"},
           ("GET", "/api/v1/studies/trials"): {"name": "no-study"}}


def _objects(project: str) -> dict[str, str]:
    """The names of ``project``'s run, model, endpoint, job and stream (made by ``_fill``)."""
    p = project[0]
    return {"run": f"r{p}", "model": f"m{p}", "endpoint": f"e{p}", "job": f"j{p}",
            "stream": f"s{p}"}


def _fill(store: Any, project: str) -> None:
    names = _objects(project)
    store.runs.create_run(_run(names["run"]))
    from modelport.core.store.runs import MetricValue

    store.runs.log_batch(names["run"], {}, [MetricValue("acc", 0, 0.9)], {}, now=1.0)
    for model in (names["model"], f"{names['model']}-other"):
        store.registry.create_version(model, dict(VERSION), {}, now=1.0)
    store.registry.set_tag(names["model"], 0, f"bundle-{project}", "yes")
    store.endpoints.create_endpoint(names["endpoint"], ONE, now=1.0)
    store.jobs.create_job({"id": names["job"], "kind": "predict", "model": names["model"],
                           "version": 1, "status": "running", "input": "in.csv",
                           "input_digest": None, "output": "out/", "options": {}, "rows": 0,
                           "rows_failed": 0, "parts": 0, "error": None, "started": 1.0,
                           "ended": None, "duration": None})


def _run(run_id: str) -> Any:
    from modelport.core.store.runs import RunRecord

    return RunRecord(id=run_id, name=run_id, experiment="default", status="RUNNING",
                     start_time=1.0, end_time=None, duration=None, dataset_digest=None,
                     git_commit=None, packages={})


def _url(path: str, names: dict[str, str], model: str | None = None) -> str:
    """``path`` with its parameters filled in from ``names`` (one project's objects)."""
    kind = "model" if path.startswith("/api/v1/models/") else "endpoint"
    values = {"run_id": names["run"], "name": model or names[kind], "job_id": names["job"],
              "endpoint": names["endpoint"], "version": "1", "alias": "champion",
              "rollout_id": "ro1", "key_id": "nokey", "consumer": "c", "digest": DIGEST,
              "method": "get_all_studies" if "/read/" in path else "create_new_study",
              "key": "acc" if "/runs/" in path else f"bundle-{names['project']}",
              "model": model or names["model"], "hour": "2026-12-04T22",
              "file": "part-" + "0" * 32 + ".parquet"}
    if path.startswith("/api/v1/streams/"):
        values["name"] = names["stream"]
    return re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], path)


def _call(client: httpx.Client, method: str, path: str, url: str, key: str | None,
          project: str) -> tuple[int, str]:
    """(status, error code or '') of one request; the change feed's stream is not read."""
    headers = {"X-Modelport-Project": project}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    body = BODIES.get((method, path))
    if isinstance(body, dict) and body.get("ids") == ["RUN"]:
        body = {"ids": [url.rsplit("/", 1)[0]]}
    if isinstance(body, dict) and body.get("run", {}).get("id") == "RUN":  # the path's run
        body = {**body, "run": {**body["run"], "id": url.rsplit("/", 1)[1]}}
    content = BLOB if method == "PUT" and "/artifacts/" in path else None
    with client.stream(method, url, headers=headers, params=QUERIES.get((method, path)),
                       json=None if content else (body if body is not None else {}),
                       content=content) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        response.read()
    code = ""
    if response.content and response.headers.get("content-type", "").startswith(
            "application/json"):
        data = response.json()
        code = f"{data.get('code')}: {data.get('error')}" if isinstance(data, dict) and \
            "error" in data else ""
    return response.status_code, code


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, dict[str, str | None]]]:
    """A live server with two projects of objects, and a key of every kind."""
    ws = Workspace.open(settings)
    keys: dict[str, str | None] = {"none": None, "forged": "mp_0000_forged"}
    for role in ("read", "write", "deploy"):
        keys[f"{role}@alpha"] = create_key(role, [role], ws=ws, projects=["alpha"])[1]
    keys["deploy@alpha/ma"] = create_key("ma only", ["deploy"], ["ma"], ws=ws,
                                         projects=["alpha"])[1]
    keys["write@all"] = create_key("everywhere", ["write"], ws=ws)[1]
    keys["predict@all"] = create_key("app", ["predict"], ws=ws)[1]
    with team_server(settings) as (url, admin):
        keys["admin"] = admin
        for project in ("alpha", "beta"):
            store = RestStore(url, admin, project)
            _fill(store, project)
            if project == "alpha":
                store.api.call("PUT", f"/artifacts/{DIGEST}", content=BLOB)
            store.streams.start_stream(_objects(project)["stream"], "c", "ma:1", {}, 1.0)
            store.close()
        yield url, keys


def _expected(key: str, role: str, project: str, across: bool = False) -> int | None:
    """The status the key's kind must get for a route needing ``role`` about ``project``
    (``across``: about every project it reaches); None where the route itself answers."""
    if key in ("none", "forged"):
        return 401
    reach, _, _ = key.partition("/")
    own_role, _, where = reach.partition("@")
    if key != "admin" and where not in ("all", project) and not across:
        return 404
    if key == "admin":
        return None
    if own_role == "predict" or RANK[own_role] < RANK[role]:
        return 403
    return None


def test_every_route_is_in_the_matrix(settings: Settings) -> None:
    app = create_app(Workspace.open(settings))
    served = {(method, route.path) for route in app.routes if isinstance(route, HTTPRoute)
              for handler in route.route_handlers for method in handler.http_methods
              if route.path.startswith("/api/v1") and method != "OPTIONS"}
    assert served - OPEN == set(ROUTES), "a new route needs its row in ROUTES"


def test_role_project_and_model_on_every_route(
        server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    # reads first, deletions last: what a call changes must not hide what comes after it
    order = {"GET": 0, "HEAD": 0, "POST": 1, "PUT": 1, "DELETE": 2}
    routes = sorted(ROUTES.items(), key=lambda item: order[item[0][0]])
    with httpx.Client(base_url=url, timeout=30) as client:
        for (method, path), role in routes:
            for project in ("alpha", "beta"):
                names = {**_objects(project), "project": project}
                for kind, key in keys.items():
                    status, code = _call(client, method, path, _url(path, names), key, project)
                    where = f"{kind} {method} {path} in {project}: {status} {code}"
                    assert status < 500, where
                    expected = _expected(kind, role, project, (method, path) in ACROSS)
                    if expected == 404 and method == "HEAD":  # a HEAD answer has no body
                        assert status == 404, where
                    elif expected == 404:  # exactly what a project that does not exist gets
                        assert code == f"not_found: project {project!r} not found", where
                    elif expected is not None:
                        assert status == expected, where
                    else:
                        assert status not in (401, 403) and "project '" not in code, where
                        if method in ("GET", "HEAD") and (method, path) not in OWN_404:
                            assert 200 <= status < 300, where


def test_a_key_limited_to_models_finds_the_others_absent(
        server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    names = {**_objects("alpha"), "project": "alpha"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for (method, path), _ in ROUTES.items():
            if not path.startswith(("/api/v1/models/{name", "/api/v1/prediction-logs/")):
                continue
            other, absent = (_call(client, method, path, _url(path, names, model), key,
                                   "alpha") for model, key in (
                ("ma-other", keys["deploy@alpha/ma"]), ("nope", keys["deploy@alpha/ma"])))
            assert (other[0], other[1].replace("ma-other", "X")) == (
                absent[0], absent[1].replace("nope", "X")), (method, path)
            if (method, path) in TAKEN:  # registering: refused, whether it exists or not
                assert other[0] == 403, other
        limited = client.get("/api/v1/models", headers={
            "Authorization": f"Bearer {keys['deploy@alpha/ma']}",
            "X-Modelport-Project": "alpha"}).json()
        assert [m["name"] for m in limited] == ["ma"]


def test_another_projects_objects_answer_as_absent_ones(
        server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    beta = {**_objects("beta"), "project": "alpha"}  # beta's names, asked about in alpha
    absent = {"run": "rz", "model": "mz", "endpoint": "ez", "job": "jz", "stream": "sz",
              "project": "alpha"}
    with httpx.Client(base_url=url, timeout=30) as client:
        for (method, path), _ in sorted(ROUTES.items(), key=lambda i: i[0][0] == "DELETE"):
            if not re.search(r"\{(run_id|name|job_id|endpoint)", path):
                continue
            for kind in ("deploy@alpha", "admin"):  # admin too: the header picks the project
                if (method, path) in TAKEN:
                    status, code = _call(client, method, path, _url(path, beta), keys[kind],
                                         "alpha")
                    assert (status, code.split(":")[0]) == (409, "conflict"), (kind, code)
                    continue
                foreign = _call(client, method, path, _url(path, beta), keys[kind], "alpha")
                missing = _call(client, method, path, _url(path, absent), keys[kind], "alpha")
                blank = [(s, re.sub(r"\b[rmejs][bz]\b", "X", c)) for s, c in (foreign, missing)]
                assert blank[0] == blank[1], (kind, method, path, foreign, missing)
    store = RestStore(url, keys["admin"], "beta")  # and nothing of beta's changed
    assert store.runs.get_runs(["rb"])[0].status == "RUNNING"
    assert store.registry.pick_version("mb", ["champion"], False) is None
    assert store.endpoints.get_endpoint("eb")["revision"] == 1  # type: ignore[index]
    assert store.jobs.get_job("jb")["status"] == "running"  # type: ignore[index]
    assert store.streams.get_stream("sb", "c").stats == {}  # type: ignore[union-attr]
    store.close()


def _blob(store: RestStore, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    store.api.call("PUT", f"/artifacts/{digest}", content=data)
    return digest


def test_a_blob_is_read_only_in_the_projects_that_own_it(
        server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    beta, alpha = (RestStore(url, keys["admin"], p) for p in ("beta", "alpha"))
    versioned, logged, loose, other_model, onnx, tokenizer, checkpoint = (
        _blob(beta, f"blob {i}".encode()) for i in range(7))
    beta.registry.create_version("mb", {**VERSION, "artifact_digest": versioned, "signature": {
        "inputs": [], "text": {"tokenizer": tokenizer}}}, {}, now=2.0)
    beta.registry.set_onnx("mb", 2, {"digest": onnx, "size": 6})
    beta.runs.log_artifact("rb", "model.bin", logged, 6)
    beta.streams.save_checkpoint("sb", "c", {"model": checkpoint, "window": loose}, now=2.0)
    loose = _blob(beta, b"nobody's")
    alpha.registry.create_version("ma-other", {**VERSION, "sample_digest": other_model}, {},
                                  now=2.0)
    beta.close()
    alpha.close()
    absent = "f" * 64
    with httpx.Client(base_url=url, timeout=30) as client:
        def answer(method: str, digest: str, key: str, project: str) -> tuple[int, str]:
            path = "/api/v1/artifacts/{digest:str}"
            touch = "/touch" if method == "POST" else ""
            status, code = _call(client, method, path, f"/api/v1/artifacts/{digest}{touch}",
                                 keys[key], project)
            return status, code.replace(digest[:12], "X")

        for method in ("GET", "HEAD", "POST"):  # POST: a writer's touch, asked in alpha
            for key in ("admin", "read@alpha" if method != "POST" else "write@all"):
                missing = answer(method, absent, key, "alpha")
                assert missing[0] == 404, missing
                for digest in (versioned, logged, onnx, tokenizer, checkpoint):  # beta's
                    assert answer(method, digest, key, "alpha") == missing, (method, key)
        for method in ("GET", "HEAD"):  # beta's fresh upload: knowing its digest reads nothing
            for key in ("admin", "read@alpha", "write@all"):
                assert answer(method, loose, key, "alpha") == answer(method, absent, key,
                                                                     "alpha"), (method, key)
        assert answer("GET", loose, "write@all", "beta")[0] == 200  # the uploader's
        for digest in (versioned, logged, onnx, tokenizer, checkpoint):  # still beta's only
            assert answer("GET", digest, "admin", "beta")[0] == 200
        assert answer("GET", other_model, "write@all", "alpha")[0] == 200
        assert answer("GET", other_model, "deploy@alpha/ma", "alpha") == answer(
            "GET", absent, "deploy@alpha/ma", "alpha")  # a model the key is not limited to
    writer = RestStore(url, keys["write@alpha"], "alpha")
    _blob(writer, b"nobody's")  # the same bytes sent from alpha: alpha's too from then on
    writer.close()
    with httpx.Client(base_url=url, timeout=30) as client:
        assert _call(client, "GET", "", f"/api/v1/artifacts/{loose}", keys["read@alpha"],
                     "alpha")[0] == 200
    # a client reads its blobs in its own project: the header travels with every call
    mine, unnamed = (open_artifacts(url, keys["read@alpha"], *p) for p in (["alpha"], []))
    assert mine.get(DIGEST) == BLOB
    with pytest.raises(NotFoundError, match="project 'default' not found"):
        unnamed.get(DIGEST)
    for client_store in (mine, unnamed):
        client_store.close()  # type: ignore[attr-defined]


def test_a_published_bundle_is_read_in_its_models_project(
        server: tuple[str, dict[str, str | None]], tmp_path: Any) -> None:
    """What ``modelport serve`` on a team server does for a device asking for a bundle
    (``edge_routes``): the tag publishing it names the blob as its model's, so a key
    limited to that model reads it — even bytes another project happened to upload."""
    from modelport.runtimes.edge.catalog import find_published, record_published

    url, keys = server
    beta = RestStore(url, keys["admin"], "beta")
    bundle = _blob(beta, b"a bundle of ma:1")  # stored, beta's: not alpha's yet
    beta.close()
    device = Workspace.open(Settings(home=tmp_path, db_url=url, artifacts_url=url,
                                     token=keys["deploy@alpha/ma"] or "", project="alpha"))
    with pytest.raises(NotFoundError):
        device.artifacts.get(bundle)
    admin = Workspace.open(Settings(home=tmp_path, db_url=url, artifacts_url=url,
                                    token=keys["admin"] or "", project="alpha"))
    record_published("ma:1", bundle, {"group": "shop", "percent": 100}, ws=admin)
    assert find_published(bundle, device) == {"model": "ma", "version": 1, "group": "shop",
                                              "percent": 100}
    assert device.artifacts.get(bundle) == b"a bundle of ma:1"
    for ws in (device, admin):
        ws.store.close()  # type: ignore[attr-defined]
        ws.artifacts.close()  # type: ignore[attr-defined]


def test_listings_leave_other_projects_out(server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    headers = {"Authorization": f"Bearer {keys['read@alpha']}", "X-Modelport-Project": "alpha"}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        text = " ".join(client.request(method, path, json=BODIES.get((method, path)),
                                       params=QUERIES.get((method, path))).text
                        for method, path in ROUTES if "{" not in path and method == "GET"
                        and path not in ("/api/v1/feed", "/api/v1/keys", "/api/v1/keys/active",
                                         "/api/v1/audit"))
        text += client.post("/api/v1/runs/search", json={}).text
    assert all(name in text for name in ("ra", "ma", "ea", "ja", "sa"))
    assert not re.search(r"\b(rb|mb|eb|jb|sb)\b|beta", text)


def test_a_key_lists_the_projects_it_reaches(server: tuple[str, dict[str, str | None]]
                                             ) -> None:
    url, keys = server
    kinds = {"alpha/ma": keys["deploy@alpha/ma"], "admin": keys["admin"],
               "all": keys["write@all"], "alpha": keys["read@alpha"]}
    with httpx.Client(base_url=url, timeout=30) as client:
        seen = {kind: {p["name"]: (p["runs"], p["models"], p["endpoints"], p["jobs"])
                       for p in client.get("/api/v1/projects", headers={
                           "Authorization": f"Bearer {key}",
                           "X-Modelport-Project": "beta"}).json()}  # the header changes nothing
                for kind, key in kinds.items()}
    every = {"default": (0, 0, 0, 0), "alpha": (1, 2, 1, 1), "beta": (1, 2, 1, 1)}
    assert seen["admin"] == seen["all"] == every
    assert seen["alpha"] == {"alpha": (1, 2, 1, 1)}
    assert seen["alpha/ma"] == {"alpha": (1, 1, 1, 1)}  # the models it is limited to


def test_a_key_limited_to_an_empty_project_lists_it(settings: Settings) -> None:
    ws = Workspace.open(settings)
    key = create_key("new team", ["read"], ws=ws, projects=["gamma", "delta"])[1]
    with team_server(settings) as (url, _):
        store = RestStore(url, key, "gamma")
        listed = [p.name for p in store.projects.list_projects()]
        store.close()
    assert listed == ["delta", "gamma"]


def test_the_change_feed_sends_only_the_projects_changes(
        server: tuple[str, dict[str, str | None]]) -> None:
    url, keys = server
    headers = {"Authorization": f"Bearer {keys['read@alpha']}", "X-Modelport-Project": "alpha"}
    beta, alpha = (RestStore(url, keys["admin"], p) for p in ("beta", "alpha"))
    with httpx.Client(base_url=url, timeout=30) as client, \
            client.stream("GET", "/api/v1/feed", headers=headers) as response:
        lines = response.iter_lines()
        assert next(lines) == ": following"
        time.sleep(0.6)  # the poller has primed itself: what moves next is a change
        beta.endpoints.set_policy("eb", ONE, now=5.0)
        time.sleep(0.6)
        alpha.endpoints.set_policy("ea", ONE, now=6.0)
        data = next(line for line in lines if line.startswith("data: "))
    assert json.loads(data[6:])["name"] == "ea"  # beta's change, made first, never came
    beta.close()
    alpha.close()
