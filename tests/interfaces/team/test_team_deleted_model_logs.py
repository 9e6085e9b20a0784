"""A deleted model's prediction logs and labels never reach the next model of its name.

Logs are kept by name and version (``model=iris/version=1/…``) and a deleted model's
numbering goes with its records, so a new ``iris`` — in any project — starts at 1 again:
deleting a whole model erases its files (in the server's own store: a directory or an
object store), and since that erases the record of what a model answered, a model that
has any needs an ``admin`` key. Deleting one version keeps its files: numbers within a
model are never reused.

One server per store (PostgreSQL, a schema of its own); keys ``a``, ``b`` (write, in
projects ``a`` and ``b``) and the admin's.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.lifecycle.predlogs import hour_of
from modelport.lifecycle.registry import register_model
from team_server import close, project_keys, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

X, Y = load_iris(return_X_y=True, as_frame=True)
API = "/api/v1"
HOUR = hour_of(1_765_000_000)
MEMORY = fsspec.filesystem("memory")


class Team:
    def __init__(self, url: str, homes: Path, keys: dict[str, str]) -> None:
        self.url, self.homes, self.keys = url, homes, keys

    def client(self, key: str, project: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={
            "Authorization": f"Bearer {self.keys[key]}", "X-Modelport-Project": project})

    def register(self, key: str, project: str, name: str) -> int:
        ws = remote_workspace(self.url, self.keys[key], self.homes / uuid.uuid4().hex, project)
        try:
            model = LogisticRegression(max_iter=300).fit(X, Y)
            return register_model(name, model, X=X, ws=ws).version
        finally:
            close(ws)

    def log(self, key: str, project: str, name: str, version: int) -> bytes:
        """One uploaded prediction-log file and one label file of ``name:version``."""
        data = f"{project}'s logged inputs of {name}:{version}".encode()
        with self.client(key, project) as c:
            for kind in ("", "labels/"):
                r = c.put(f"{API}/prediction-logs/{name}/{version}/{kind}{HOUR}/"
                          f"part-{uuid.uuid4().hex}.parquet", content=data,
                          headers={"X-Content-SHA256": hashlib.sha256(data).hexdigest()})
                assert r.status_code == 201, r.text
        return data

    def listed(self, key: str, project: str, name: str, version: int) -> list[object]:
        with self.client(key, project) as c:
            found = []
            for kind in ("", "/labels"):
                r = c.get(f"{API}/prediction-logs/{name}/{version}{kind}")
                assert r.status_code == 200, r.text
                found += r.json()
            return found

    def audited(self, name: str) -> list[tuple[str, int]]:
        """(key name, status) of each DELETE of model ``name``, oldest first."""
        with self.client("admin", "default") as c:
            log = c.get(f"{API}/audit", params={"limit": 1000}).json()
        return [(e["key_name"], e["status"]) for e in reversed(log)
                if e["method"] == "DELETE" and e["path"] == f"{API}/models/{name}"]


@pytest.fixture(scope="module", params=["directory", "memory"])
def team(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         pg_schemas_module: Callable[[], str]) -> Iterator[Team]:
    db_url = pg_schemas_module()  # a server per store: each bootstraps its own admin key
    base = tmp_path_factory.mktemp("deleted")
    bucket = f"mp-{uuid.uuid4().hex}"
    artifacts = (str(base / "server" / "artifacts") if request.param == "directory"
                 else f"memory://{bucket}")
    server = Settings(home=base / "server", db_url=db_url, artifacts_url=artifacts)
    try:
        with team_server(server) as (url, admin):
            yield Team(url, base, project_keys(url, admin, base / "admin"))
    finally:
        if MEMORY.exists(f"/{bucket}"):
            MEMORY.rm(f"/{bucket}", recursive=True)


def _name() -> str:
    return f"iris-{uuid.uuid4().hex[:8]}"


def test_a_deleted_models_logs_never_reach_another_projects_model_of_its_name(
        team: Team) -> None:
    name = _name()
    assert team.register("a", "a", name) == 1
    team.log("a", "a", name, 1)
    assert len(team.listed("a", "a", name, 1)) == 2
    with team.client("admin", "a") as c:
        assert c.delete(f"{API}/models/{name}").status_code == 204
    assert team.register("b", "b", name) == 1  # numbering restarts with a new model
    assert team.listed("b", "b", name, 1) == []  # a's logged inputs and labels are gone
    assert team.audited(name) == [("bootstrap admin (modelport server)", 204)]


def test_a_write_key_may_not_erase_a_models_logs_by_deleting_it(team: Team) -> None:
    name = _name()
    team.register("a", "a", name)
    team.log("a", "a", name, 1)
    with team.client("a", "a") as c:
        r = c.delete(f"{API}/models/{name}")
        assert r.status_code == 403
        assert r.json()["code"] == "model_logs_kept"
        assert "erase its prediction logs" in r.json()["error"]
        assert c.get(f"{API}/models/{name}").status_code == 200  # nothing deleted
    assert len(team.listed("a", "a", name, 1)) == 2
    assert team.audited(name) == [("a", 403)]


def test_a_write_key_deletes_a_model_without_logs(team: Team) -> None:
    name = _name()
    team.register("a", "a", name)
    with team.client("a", "a") as c:
        assert c.delete(f"{API}/models/{name}").status_code == 204
        assert c.get(f"{API}/models/{name}").status_code == 404


def test_another_projects_key_learns_nothing_of_a_models_logs(team: Team) -> None:
    name = _name()
    team.register("a", "a", name)
    team.log("a", "a", name, 1)
    with team.client("b", "b") as c:  # not b's model: missing, as any other
        assert c.delete(f"{API}/models/{name}").status_code == 404
    assert len(team.listed("a", "a", name, 1)) == 2


def test_deleting_one_version_keeps_its_logs_and_never_lends_them_to_the_next(
        team: Team) -> None:
    name = _name()
    team.register("a", "a", name)
    team.log("a", "a", name, 1)
    with team.client("a", "a") as c:  # one version: a write key, its files kept
        assert c.delete(f"{API}/models/{name}/versions/1").status_code == 204
    assert team.register("a", "a", name) == 2  # never 1 again
    assert team.listed("a", "a", name, 2) == []
    with team.client("a", "a") as c:  # iris:1's files are kept, unreachable by the API
        assert c.get(f"{API}/prediction-logs/{name}/1").status_code == 404
