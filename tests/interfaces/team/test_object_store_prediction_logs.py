"""Prediction logs (and delayed labels) on a team server whose artifacts live on an object
store (``modelport server --artifacts s3://…``; here fsspec's in-memory filesystem, a real
implementation): kept in that store under the same layout, uploaded whole and checked,
listed, read, pruned and deleted there — and a workspace without a server whose artifacts
are on such a store logs there too.

One server (PostgreSQL, a schema of its own) for the module.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import fsspec
import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from log_uploads import keep_once, one_of_each, refuse_altered, stop_halfway
from modelport.config import Settings
from modelport.core.log_stores import open_log_files
from modelport.core.logfiles import LABELS, LOGS
from modelport.core.workspace import Workspace
from modelport.interfaces.team.logfiles import prune
from modelport.lifecycle.labels import (
    label_files,
    label_uploads,
    labels_root,
    write_labels,
    writer_retention,
)
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import hour_of, log_files, logs_root, read_window, uploads
from modelport.lifecycle.registry import register_model
from modelport.runtimes.log_spool import Spool
from modelport.runtimes.prediction_log import PredictionLog
from served import serve_frame
from team_server import close, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

X, Y = load_iris(return_X_y=True, as_frame=True)
API = "/api/v1/prediction-logs"
RETENTION_S = 30 * 86400
MEMORY = fsspec.filesystem("memory")


def keys(bucket: str, kind: str = "") -> list[str]:
    """Every object under ``bucket`` (``/kind``), as the store lists them."""
    base = f"/{bucket}/{kind}".rstrip("/")
    return sorted(MEMORY.find(base)) if MEMORY.exists(base) else []


def plant(bucket: str, kind: str, model: str, hour: str, name: str | None = None) -> str:
    key = (f"/{bucket}/{kind}/model={model}/version=1/hour={hour}/"
           f"{name or f'part-{uuid.uuid4().hex}.parquet'}")
    MEMORY.pipe_file(key, b"PAR1")
    return key


class Team:
    def __init__(self, url: str, bucket: str, homes: Path, admin: str, writer: str,
                 planted: dict[str, list[str]]) -> None:
        self.url, self.bucket, self.homes = url, bucket, homes
        self.admin, self.writer, self.planted = admin, writer, planted

    def machine(self, name: str) -> Workspace:
        return remote_workspace(self.url, self.writer, self.homes / name)

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"},
                            timeout=30)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str) -> Iterator[Team]:
    from modelport.core.keys import create_key

    base = tmp_path_factory.mktemp("objects")
    bucket = f"mp-{uuid.uuid4().hex}"
    now = time.time()
    planted: dict[str, list[str]] = {"old": [], "recent": []}
    for kind in (LOGS, LABELS):
        for age, days in (("old", 40), ("recent", 1)):
            planted[age].append(plant(bucket, kind, "gone", hour_of(now - days * 86400)))
    server = Settings(home=base / "server", db_url=pg_schema_module,
                      artifacts_url=f"memory://{bucket}")
    try:
        with team_server(server, log_retention_s=RETENTION_S) as (url, admin):
            ws = remote_workspace(url, admin, base / "admin")
            register_model("iris", LogisticRegression(max_iter=500).fit(X, Y), X=X, ws=ws)
            petals = X.iloc[:, 2:]  # whose files an admin deletes
            register_model("petals", LogisticRegression(max_iter=200).fit(petals, Y),
                           X=petals, ws=ws)
            writer = create_key("writer", ["write"], None, projects=["default"], ws=ws)[1]
            close(ws)
            yield Team(url, bucket, base, admin, writer, planted)
    finally:
        MEMORY.rm(f"/{bucket}", recursive=True)


def test_served_traffic_is_kept_in_the_object_store_and_monitored_elsewhere(
        team: Team) -> None:
    a = team.machine("a")
    try:
        predlog = PredictionLog(logs_root(a), 1.0, flush_s=3600, upload=uploads(a))
        serve_frame(a, "iris", X.head(40), predlog, 5)  # the last flush uploads
    finally:
        close(a)
    assert (predlog.uploaded, predlog.unsent, predlog.upload_failures) == (1, 0, 0)
    assert not list((team.homes / "a" / "predictions").rglob("part-*"))  # none left behind
    [kept] = [k for k in keys(team.bucket, LOGS) if "model=iris" in k]
    assert kept.rsplit("/", 4)[1:3] == ["model=iris", "version=1"]
    assert not [k for k in keys(team.bucket) if ".tmp-" in k]  # the temporary key went
    b = team.machine("b")  # another machine: no file of its own
    try:
        [report] = monitor("iris", since_s=3600, ws=b)
        assert report["volume"]["rows"] >= 40
        assert read_window(log_files(b), "iris", 1, 0).rows >= 40
    finally:
        close(b)


def test_labels_go_to_the_object_store_and_are_read_back(team: Team) -> None:
    a = team.machine("c")
    try:
        path = write_labels(labels_root(a), "iris", 1, ["r1", "r2"], ["0", "1"])
        spool = Spool(labels_root(a), label_uploads(a), "label")
        spool.send()
        assert (spool.uploaded, spool.failures) == (1, 0) and not path.exists()
        assert [f.name for f in label_files(a).list("iris", 1)] == [path.name]
    finally:
        close(a)
    assert [k for k in keys(team.bucket, LABELS) if k.endswith(path.name)]


def test_an_interrupted_altered_or_clashing_upload_leaves_nothing_visible(team: Team) -> None:
    hour, name = "2026-12-04T21", "part-" + "c" * 32 + ".parquet"
    path = f"{API}/iris/1/{hour}/{name}"
    body = b"PAR1" + bytes(200_000)
    stop_halfway(team.url, team.writer, path, body)
    final = f"/{team.bucket}/{LOGS}/model=iris/version=1/hour={hour}/{name}"
    with team.client(team.writer) as api:
        refuse_altered(api, path, body)
        assert not MEMORY.exists(final)
        assert name not in {f["name"] for f in api.get(f"{API}/iris/1").json()}
        assert api.get(path).status_code == 404
        answer = keep_once(api, path, body)
        assert int(answer.headers["content-length"]) == len(body)
        assert MEMORY.cat_file(final) == body
    assert not [k for k in keys(team.bucket) if ".tmp-" in k]
    MEMORY.rm_file(final)  # not a log: the other tests read the version's window


def test_a_hostile_path_part_writes_nothing_outside_the_layout(team: Team) -> None:
    before = keys(team.bucket)
    good_hour, good_name = "2026-12-04T22", "part-" + "b" * 32 + ".parquet"
    with team.client(team.writer) as api:
        for kind in ("", "/labels"):
            for bad in ("%2E%2E", "..%2F..%2Fescape", "part-%00.parquet", ".hidden", "-1"):
                for model, hour, name in ((bad, good_hour, good_name),
                                          ("iris", bad, good_name), ("iris", good_hour, bad)):
                    url = httpx.URL(team.url).copy_with(
                        raw_path=f"{API}/{model}/1{kind}/{hour}/{name}".encode())
                    answer = api.put(url, content=b"PAR1", headers={
                        "x-content-sha256": hashlib.sha256(b"PAR1").hexdigest()})
                    assert 400 <= answer.status_code < 500 and answer.json()["code"], \
                        (model, hour, name, answer.text)
    assert keys(team.bucket) == before
    assert not [k for k in MEMORY.find("/") if "escape" in k]


def test_listing_shows_only_complete_files_of_real_hours(team: Team) -> None:
    hour = hour_of(time.time())
    temp = plant(team.bucket, LOGS, "iris", hour, f".tmp-{uuid.uuid4().hex}.parquet")
    odd = plant(team.bucket, LOGS, "iris", "not-an-hour")
    try:
        with team.client(team.writer) as api:
            names = {f["name"] for f in api.get(f"{API}/iris/1").json()}
        assert temp.rsplit("/", 1)[1] not in names and odd.rsplit("/", 1)[1] not in names
    finally:
        MEMORY.rm_file(temp)
        MEMORY.rm_file(odd)


def test_the_server_prunes_hours_past_its_retention_in_the_object_store(team: Team) -> None:
    deadline = time.monotonic() + 10  # the server's first pass runs as it starts
    while any(MEMORY.exists(k) for k in team.planted["old"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(MEMORY.exists(k) for k in team.planted["old"])
    assert all(MEMORY.exists(k) for k in team.planted["recent"])
    now = time.time()
    bucket = f"mp-{uuid.uuid4().hex}"
    try:
        files = [plant(bucket, kind, "iris", hour_of(now - hours * 3600))
                 for kind in (LOGS, LABELS) for hours in (3, 1)]
        state = SimpleNamespace(ws=SimpleNamespace(settings=SimpleNamespace(
            artifacts_url=f"memory://{bucket}")), log_retention_s=2 * 3600)
        assert prune(state, now) == 2  # type: ignore[arg-type]
        assert [MEMORY.exists(k) for k in files] == [False, True, False, True]
    finally:
        MEMORY.rm(f"/{bucket}", recursive=True)


def test_an_admin_deletes_a_versions_logs_and_labels_in_the_object_store(team: Team) -> None:
    with team.client(team.writer) as api:
        one_of_each(api, "petals")
        assert api.delete(f"{API}/petals/1").status_code == 403
    with team.client(team.admin) as api:
        assert api.delete(f"{API}/petals/1").json() == {"files": 2}
        assert api.get(f"{API}/petals/1").json() == []
        assert api.get(f"{API}/petals/1/labels").json() == []
        assert api.delete(f"{API}/petals/1").json() == {"files": 0}
    assert not [k for k in keys(team.bucket) if "model=petals" in k]


def test_a_workspace_on_an_object_store_logs_there_without_a_server(tmp_path: Path) -> None:
    bucket = f"mp-{uuid.uuid4().hex}"
    ws = Workspace.open(Settings(home=tmp_path / "home", artifacts_url=f"memory://{bucket}"))
    try:
        register_model("iris", LogisticRegression(max_iter=500).fit(X, Y), X=X, ws=ws)
        predlog = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
        serve_frame(ws, "iris", X.head(10), predlog, 5)
        assert (predlog.uploaded, predlog.unsent) == (1, 0)
        assert logs_root(ws).is_relative_to(tmp_path / "home")  # a spool on this machine
        assert not list(logs_root(ws).rglob("part-*"))
        assert read_window(log_files(ws), "iris", 1, 0).rows == 10
        assert len([k for k in keys(bucket, LOGS) if k.endswith(".parquet")]) == 1
        assert type(open_log_files(f"memory://{bucket}")).__name__ == "FsspecLogFiles"
    finally:
        MEMORY.rm(f"/{bucket}", recursive=True)


def test_a_writers_retention_reaches_the_object_store_it_logs_to(tmp_path: Path) -> None:
    """Without a server nothing else prunes the store: ``serve --log-retention 1d`` on a
    workspace whose artifacts are there removes the old hours there — its labels' too —
    not only in its spool, which keeps just what is not sent yet."""
    bucket = f"mp-{uuid.uuid4().hex}"
    ws = Workspace.open(Settings(home=tmp_path / "home", artifacts_url=f"memory://{bucket}"))
    try:
        now = time.time()
        kept = [plant(bucket, kind, "iris", hour_of(now - hours * 3600))
                for hours in (72, 1) for kind in (LOGS, LABELS)]
        retention = writer_retention(ws, 86400)
        assert retention is not None
        retention.prune(now)
        assert [MEMORY.exists(k) for k in kept] == [False, False, True, True]
    finally:
        MEMORY.rm(f"/{bucket}", recursive=True)
