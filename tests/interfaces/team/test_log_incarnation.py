"""A log file belongs to one life of a version, not to its name and number: what a deleted
model's writers send late never becomes the history of the next model of that name.

Model names are global but numbering restarts after a model is deleted, so a later
``iris`` (in any project) reuses ``iris:1``'s keys. Three ways a deleted model's files
got there: an upload accepted before the delete and finished after the erase, a writer
machine sending what it still held, and files of models deleted before the erase
existed. One server (PostgreSQL, a schema of its own; its own directory) for the module;
keys ``a`` and ``b`` (write, in projects ``a`` and ``b``) and the admin's.
"""

from __future__ import annotations

import hashlib
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.lifecycle.predlogs import hour_of, logs_root, uploads
from modelport.lifecycle.registry import get_version, register_model
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.auth import ForbiddenError
from team_server import close, project_keys, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

X, Y = load_iris(return_X_y=True, as_frame=True)
API = "/api/v1"


class Team:
    def __init__(self, url: str, base: Path, keys: dict[str, str]) -> None:
        self.url, self.base, self.keys = url, base, keys

    @property
    def kept(self) -> Path:
        return self.base / "server" / "artifacts" / "predictions"

    def client(self, key: str, project: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={
            "Authorization": f"Bearer {self.keys[key]}", "X-Modelport-Project": project})

    def machine(self, key: str, project: str):  # type: ignore[no-untyped-def]
        return remote_workspace(self.url, self.keys[key], self.base / uuid.uuid4().hex,
                                project)

    def register(self, key: str, project: str, name: str) -> int:
        ws = self.machine(key, project)
        try:
            return register_model(name, LogisticRegression(max_iter=300).fit(X, Y), X=X,
                                  ws=ws).version
        finally:
            close(ws)

    def delete(self, name: str, project: str) -> None:
        with self.client("admin", project) as c:
            r = c.delete(f"{API}/models/{name}")
            assert r.status_code == 204, r.text

    def listed(self, key: str, project: str, name: str, version: int = 1) -> list[object]:
        with self.client(key, project) as c:
            r = c.get(f"{API}/prediction-logs/{name}/{version}")
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str) -> Iterator[Team]:
    base = tmp_path_factory.mktemp("incarnation")
    with team_server(Settings(home=base / "server", db_url=pg_schema_module)) as (url, admin):
        yield Team(url, base, project_keys(url, admin, base / "admin"))


def _name() -> str:
    return f"iris-{uuid.uuid4().hex[:8]}"


def _response(raw: socket.socket) -> tuple[int, bytes]:
    """(status, body) of the one response on ``raw`` (the server closes nothing: read to
    the length it declares)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += raw.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = int(next(h.split(":", 1)[1] for h in lines[1:]
                      if h.lower().startswith("content-length")))
    while len(body) < length:
        body += raw.recv(65536)
    return int(lines[0].split()[1]), body


@pytest.mark.parametrize("named", [True, False])
def test_an_upload_finishing_after_its_models_delete_never_reaches_the_next_model(
        team: Team, named: bool) -> None:
    """Hole 1: the upload passed its checks before the delete, its body arrives after the
    erase and after another project made a new model of the name: it is taken back
    (``named``: the writer names the life it logged; else an older writer's upload)."""
    name = _name()
    team.register("a", "a", name)
    claim = ""
    if named:
        ws = team.machine("a", "a")
        claim = f"X-Model-Incarnation: {get_version(f'{name}:1', ws=ws).incarnation}\r\n"
        close(ws)
    hour, part = hour_of(time.time()), f"part-{uuid.uuid4().hex}.parquet"
    body = b"PAR1" + bytes(100_000)
    staging = team.kept / ".staging"
    before = set(staging.glob(".up-*")) if staging.exists() else set()
    with socket.create_connection(("127.0.0.1", int(team.url.rsplit(":", 1)[1]))) as raw:
        raw.sendall(f"PUT {API}/prediction-logs/{name}/1/{hour}/{part} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nAuthorization: Bearer {team.keys['a']}\r\n"
                    f"X-Modelport-Project: a\r\n{claim}"
                    f"x-content-sha256: {hashlib.sha256(body).hexdigest()}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:1000])
        deadline = time.monotonic() + 10  # the server checked the path and began receiving
        while not set(staging.glob(".up-*")) - before:
            assert time.monotonic() < deadline, "the upload never began"
            time.sleep(0.02)
        team.delete(name, "a")
        assert team.register("b", "b", name) == 1
        raw.sendall(body[1000:])
        status, answer = _response(raw)
    assert status == (410 if named else 404), answer
    assert team.listed("b", "b", name) == []  # b's iris:1 has no history of a's
    assert not list(team.kept.glob(f"model={name}/version=1/hour=*/part-*"))


def _keep(predlog: PredictionLog, ws, name: str) -> None:  # type: ignore[no-untyped-def]
    """Three rows of ``name:1`` as a runtime logs them: with the loaded version's life."""
    version = get_version(f"{name}:1", ws=ws)
    predlog.keep(name, 1, version.signature, "r1", X.values[:3], Y.values[:3],
                 version.incarnation)


@pytest.mark.parametrize("again_in", ["a", "b"])
def test_a_writer_holding_a_deleted_models_rows_never_sends_them_to_the_next_one(
        team: Team, again_in: str) -> None:
    """Hole 2: a serving machine logged rows of ``iris:1``; the model is deleted and made
    again (in the same project, or another) before the writer flushes: the new ``iris:1``
    gets none of them, and the writer drops them (they have nowhere to go) instead of
    keeping them to send at every start."""
    name = _name()
    team.register("a", "a", name)
    ws = team.machine("a", "a")
    try:
        predlog = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
        _keep(predlog, ws, name)
        team.delete(name, "a")
        assert team.register(again_in, again_in, name) == 1
        assert predlog.flush() == 3  # written here; the server refuses it
        assert team.listed(again_in, again_in, name) == []
        assert not list(logs_root(ws).rglob("part-*.parquet"))  # dropped, not kept forever
        assert (predlog.unsent, predlog.uploaded, predlog.dropped_files) == (0, 0, 1)
        assert 'modelport_prediction_log_dropped_files_total{pid=' in predlog.gauges().decode()
    finally:
        close(ws)


def test_a_file_an_earlier_writer_left_for_a_deleted_model_is_dropped_by_the_next(
        team: Team) -> None:
    """A machine restarted after the delete picks up what its last writer could not
    send: the file says which ``iris:1`` it is of, so the next writer drops it too."""
    name = _name()
    team.register("a", "a", name)
    ws = team.machine("a", "a")
    try:
        earlier = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=None)
        _keep(earlier, ws, name)
        earlier.flush()  # written, never sent (the machine went down)
        team.delete(name, "a")
        assert team.register("a", "a", name) == 1
        later = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
        later.flush()
        assert (later.uploaded, later.dropped_files) == (0, 1)
        assert team.listed("a", "a", name) == []
        assert not list(logs_root(ws).rglob("part-*.parquet"))
    finally:
        close(ws)


def _put(team: Team, name: str, headers: dict[str, str], key: str = "a") -> httpx.Response:
    body = f"rows of {name}".encode()
    with team.client(key, key) as c:
        return c.put(f"{API}/prediction-logs/{name}/1/{hour_of(time.time())}/"
                     f"part-{uuid.uuid4().hex}.parquet", content=body, headers={
                         "x-content-sha256": hashlib.sha256(body).hexdigest(), **headers})


def test_the_server_keeps_a_file_only_for_the_life_it_names(team: Team) -> None:
    name = _name()
    team.register("a", "a", name)
    ws = team.machine("a", "a")
    try:
        life = get_version(f"{name}:1", ws=ws).incarnation
    finally:
        close(ws)
    assert _put(team, name, {"X-Model-Incarnation": life}).status_code == 201
    stale = _put(team, name, {"X-Model-Incarnation": "0" * 32})
    assert (stale.status_code, stale.json()["code"]) == (410, "version_gone"), stale.text
    assert "deleted, or a new model of its name" in stale.json()["error"]
    gone = _put(team, f"{name}-never", {"X-Model-Incarnation": life})  # none in view: gone
    assert (gone.status_code, gone.json()["code"]) == (410, "version_gone")
    for bad in ("x" * 32, life.upper(), life + "0", "../" + life[3:]):
        answer = _put(team, name, {"X-Model-Incarnation": bad})
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_input"), bad
    # a writer older than the header: kept on the name and number alone
    assert _put(team, name, {}).status_code == 201
    assert len(team.listed("a", "a", name)) == 2


def _plant(team: Team, name: str) -> None:
    """A log and a label file of ``name:1`` in the server's own store, as a model deleted
    before deletes erased files left them."""
    for kind in ("predictions", "labels"):
        hour = team.kept.parent / kind / f"model={name}" / "version=1" / "hour=2026-12-01T10"
        hour.mkdir(parents=True)
        (hour / f"part-{uuid.uuid4().hex}.parquet").write_bytes(b"PAR1")


def test_an_admin_erases_the_logs_of_models_deleted_before_deletes_erased_them(
        team: Team) -> None:
    """Hole 3: files of a model no project has any more are found and erased — by an
    admin only; a live model's (in any project) are kept."""
    gone, live = _name(), _name()
    _plant(team, gone)
    team.register("b", "b", live)
    _put_as(team, "b", live)
    for key in ("a", "b"):  # write keys: not theirs to see or erase
        with team.client(key, key) as c:
            for method in ("GET", "DELETE"):
                r = c.request(method, f"{API}/prediction-logs/orphans")
                assert r.status_code == 403, r.text
                assert r.json()["code"] == "forbidden"
    with team.client("admin", "a") as c:
        found = c.get(f"{API}/prediction-logs/orphans").json()
        assert found["models"][gone] == 2 and live not in found["models"]
        assert found["erased"] is False
        assert (team.kept / f"model={gone}").exists()  # a dry run erases nothing
        erased = c.delete(f"{API}/prediction-logs/orphans").json()
        assert erased["models"][gone] == 2 and erased["erased"] is True
        assert gone not in c.get(f"{API}/prediction-logs/orphans").json()["models"]
    assert not list(team.kept.parent.glob(f"*/model={gone}/version=*/hour=*/part-*"))
    assert len(team.listed("b", "b", live)) == 1


def test_a_remote_workspace_prunes_the_servers_orphans_with_an_admin_key(team: Team) -> None:
    from modelport.lifecycle.predlogs import prune_orphans

    gone = _name()
    _plant(team, gone)
    ws = team.machine("a", "a")
    try:
        with pytest.raises(ForbiddenError):
            prune_orphans(erase=True, ws=ws)
    finally:
        close(ws)
    admin = remote_workspace(team.url, team.keys["admin"], team.base / uuid.uuid4().hex)
    try:
        assert prune_orphans(erase=False, ws=admin).models[gone] == 2
        assert prune_orphans(erase=True, ws=admin).models[gone] == 2
        assert gone not in prune_orphans(erase=False, ws=admin).models
    finally:
        close(admin)


def _put_as(team: Team, key: str, name: str) -> None:
    ws = team.machine(key, key)
    try:
        life = get_version(f"{name}:1", ws=ws).incarnation
    finally:
        close(ws)
    r = _put(team, name, {"X-Model-Incarnation": life}, key)
    assert r.status_code == 201, r.text
