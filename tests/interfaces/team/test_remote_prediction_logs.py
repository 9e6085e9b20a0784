"""Prediction logs (and delayed labels) behind a team server: the machine that serves (or
scores, or drains labels) uploads each complete Parquet file to the server, and
``monitor`` on any other machine reads them there — within the model's project, every
path part checked, nothing half-sent visible; the server prunes what is past its
retention, and an admin removes a version's files.

One server (PostgreSQL, a schema of its own) for the module; machines are workspaces
with homes of their own and keys of their own.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from cli_runner import invoke
from log_uploads import keep_once, one_of_each, refuse_altered, stop_halfway
from modelport.config import Settings
from modelport.control.monitor_loop import record
from modelport.core.keys import create_key
from modelport.core.logfiles import LABELS, LocalLogFiles
from modelport.core.store.rest.logfiles import RestLogFiles
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.logfiles import prune
from modelport.lifecycle.labels import label_files, labels_root
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import (
    hour_of,
    log_files,
    log_location,
    logs_root,
    read_window,
    uploads,
)
from modelport.lifecycle.registry import register_model
from modelport.runtimes import label_stream
from modelport.runtimes.batch import predict_job
from modelport.runtimes.label_stream import drain
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.stream import brokers
from served import serve_frame
from servers import free_port
from services import require_service
from team_server import close, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

X, Y = load_iris(return_X_y=True, as_frame=True)
API = "/api/v1/prediction-logs"
RETENTION_S = 30 * 86400  # the module server's --log-retention
REDIS = "redis://127.0.0.1:6379"


def plant(root: Path, model: str, hour: str) -> Path:
    """A file in ``root``'s layout (not a real log: retention looks at hours only)."""
    path = LocalLogFiles(root).directory(model, 1, hour) / f"part-{uuid.uuid4().hex}.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    return path


class Team:
    def __init__(self, url: str, server_home: Path, homes: Path, keys: dict[str, str],
                 planted: dict[str, list[Path]]) -> None:
        self.url, self.server_home, self.homes, self.keys = url, server_home, homes, keys
        self.planted = planted  # "old" and "recent" files put there before the server began

    def machine(self, name: str, key: str, project: str = "default"):  # type: ignore[no-untyped-def]
        return remote_workspace(self.url, self.keys[key], self.homes / name, project)

    def client(self, key: str, project: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"}
        if project is not None:
            headers["X-Modelport-Project"] = project
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @property
    def kept(self) -> Path:
        """The server's own log directory."""
        return self.server_home / "artifacts" / "predictions"

    @property
    def labels(self) -> Path:
        """The server's own label directory."""
        return self.server_home / "artifacts" / "labels"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str) -> Iterator[Team]:
    """A server with model ``iris`` in project ``default`` and keys: ``writer`` (write,
    default), ``reader`` (read, default), ``other`` (read+write, project ``b``) and
    ``narrow`` (write, limited to model ``wine``). The server keeps logs ``RETENTION_S``;
    files 40 days old (and a day old) were there before it started."""
    base = tmp_path_factory.mktemp("logs")
    server = Settings(home=base / "server", db_url=pg_schema_module)
    now = time.time()
    planted: dict[str, list[Path]] = {"old": [], "recent": []}
    for kind in ("predictions", "labels"):
        for age, days in (("old", 40), ("recent", 1)):
            planted[age].append(plant(base / "server" / "artifacts" / kind, "gone",
                                      hour_of(now - days * 86400)))
    with team_server(server, log_retention_s=RETENTION_S) as (url, admin):
        ws = remote_workspace(url, admin, base / "admin")
        register_model("iris", LogisticRegression(max_iter=500).fit(X, Y), X=X, ws=ws)
        keys = {"admin": admin}
        for name, scopes, projects, models in (
                ("writer", ["write"], ["default"], None), ("reader", ["read"], ["default"], None),
                ("other", ["write"], ["b"], None), ("narrow", ["write"], None, ["wine"])):
            keys[name] = create_key(name, scopes, models, projects=projects, ws=ws)[1]
        close(ws)
        yield Team(url, base / "server", base, keys, planted)


def serve(team: Team, machine: str, rows: int, batch: int = 5) -> PredictionLog:
    """Real traffic through the serving app of a machine logged in with the writer key,
    every request logged (``modelport serve --log-sample 1`` builds the same), then shut
    down: the last flush uploads."""
    ws = team.machine(machine, "writer")
    predlog = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
    try:
        serve_frame(ws, "iris", X.head(rows), predlog, batch)  # its last flush uploads
    finally:
        close(ws)
    return predlog


def test_served_traffic_is_uploaded_and_monitored_from_another_machine(team: Team) -> None:
    before = read_window(team.kept, "iris", 1, 0).rows
    predlog = serve(team, "a", rows=60)
    assert (predlog.uploaded, predlog.unsent, predlog.upload_failures) == (1, 0, 0)
    assert not list((team.homes / "a" / "predictions").rglob("part-*"))  # none left behind
    b = team.machine("b", "reader")  # another machine, a read key: no file of its own
    try:
        [report] = monitor("iris", since_s=3600, ws=b)
        assert report["volume"]["rows"] == before + 60
        assert set(report["features"]) == set(X.columns)
        assert isinstance(log_files(b), RestLogFiles)
    finally:
        close(b)
    assert not (team.homes / "b" / "predictions").exists()


def test_a_remote_batch_job_uploads_its_log_and_the_check_is_kept_on_the_server(
        team: Team, tmp_path: Path) -> None:
    ws = team.machine("c", "writer")
    before = read_window(team.kept, "iris", 1, 0).rows
    try:
        X.to_csv(tmp_path / "in.csv", index=False)
        report = predict_job("iris", str(tmp_path / "in.csv"), str(tmp_path / "out"),
                             workers=1, log_sample=1.0, ws=ws)
        job = ws.store.jobs.get_job(report.job.id)  # as the server keeps it
        assert job is not None and job["status"] == "succeeded"
        assert job["options"]["prediction_log"] == log_location(ws) == \
            f"{team.url}/api/v1/prediction-logs"
        assert not list((team.homes / "c" / "predictions").rglob("part-*"))
        assert read_window(log_files(ws), "iris", 1, 0).rows == before + 150
        _, checked = record("iris", since_s=60, ws=ws)
        [kept] = ws.store.jobs.list_jobs(10, None, "monitor", None)  # GET /api/v1/jobs
        assert (kept["id"], kept["status"]) == (checked.job_id, "succeeded")
        assert kept["rows"] >= 150
    finally:
        close(ws)
    assert not list((team.homes / "c").rglob("sha256"))  # the model came from the server


def test_another_projects_key_or_another_models_key_finds_no_logs(team: Team) -> None:
    serve(team, "d", rows=5)
    [file] = LocalLogFiles(team.kept).list("iris", 1)[:1]
    one = f"{API}/iris/1/{file.hour}/{file.name}"
    for key, project in (("other", None), ("other", "b"), ("narrow", None)):
        with team.client(key, project) as api:
            for answer in (api.get(f"{API}/iris/1"), api.get(one),
                           api.put(one, content=b"x", headers={
                               "x-content-sha256": hashlib.sha256(b"x").hexdigest()})):
                assert answer.status_code == 404 and answer.json()["code"] == "not_found", \
                    (key, project, answer.request.method, answer.text)
    b = team.machine("e", "other", project="b")
    try:
        with pytest.raises(NotFoundError):
            log_files(b).list("iris", 1)
    finally:
        close(b)
    with team.client("reader") as api:  # the project's own read key does see them
        assert api.get(f"{API}/iris/1").status_code == 200
        assert api.get(one).status_code == 200


# as they reach the handler: a bare ``..`` segment is resolved before routing (below)
HOSTILE = ["%2E%2E", "..%2F..%2Fescape", "%2Fetc%2Fpasswd", "part-%00.parquet", "x%00",
           "part-" + "a" * 32 + ".parquet%2F..", "%5C..%5Cx", ".hidden", "-1", "99999999999"]


@pytest.mark.parametrize("kind", ["", "/labels"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_hostile_path_part_is_refused_with_a_json_4xx(team: Team, method: str,
                                                         kind: str) -> None:
    good_hour, good_name = "2026-12-04T22", "part-" + "b" * 32 + ".parquet"
    key = "writer" if method == "PUT" else "reader"
    with team.client(key) as api:
        for bad in HOSTILE:
            for model, hour, name in ((bad, good_hour, good_name), ("iris", bad, good_name),
                                      ("iris", good_hour, bad)):
                # raw, as sent: no client-side normalisation of the dot segments
                url = httpx.URL(team.url).copy_with(
                    raw_path=f"{API}/{model}/1{kind}/{hour}/{name}".encode())
                answer = api.request(method, url, content=b"PAR1", headers={
                    "x-content-sha256": hashlib.sha256(b"PAR1").hexdigest()})
                assert 400 <= answer.status_code < 500, (model, hour, name, answer.text)
                assert answer.json()["code"], (model, hour, name, answer.text)
        # bare dot segments climb no further than the routes: nothing outside them answers
        climb = httpx.URL(team.url).copy_with(
            raw_path=f"{API}/iris/1{kind}/../../../../../../etc/passwd".encode())
        answer = api.request(method, climb, content=b"PAR1")
        assert 400 <= answer.status_code < 500 and answer.json()["code"], answer.text
    escaped = [p for p in team.server_home.rglob("*") if p.is_file()
               and not {"predictions", "labels"} & set(p.parts) and p.suffix == ".parquet"]
    assert escaped == []
    if method == "PUT":  # refused writes are audited too — a NUL in a path loses no entry
        with team.client("admin") as api:
            entries = api.get("/api/v1/audit", params={"limit": 200}).json()
        assert any(e["path"].endswith("/x%00") and e["status"] == 400 for e in entries), \
            [e["path"] for e in entries]
    for root in (team.kept, team.labels):
        assert not (root / "model=iris" / "version=1" / f"hour={good_hour}").exists()


def test_an_interrupted_or_altered_upload_leaves_nothing_visible(team: Team) -> None:
    hour, name = "2026-12-04T21", "part-" + "c" * 32 + ".parquet"
    path = f"{API}/iris/1/{hour}/{name}"
    body = b"PAR1" + bytes(200_000)
    stop_halfway(team.url, team.keys["writer"], path, body)
    with team.client("writer") as api:
        refuse_altered(api, path, body)
        staging = team.kept / ".staging"
        deadline = time.monotonic() + 10
        while staging.exists() and any(staging.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)  # the server notices the closed connection
        assert not staging.exists() or not any(staging.iterdir())
        assert name not in {f["name"] for f in api.get(f"{API}/iris/1").json()}
        assert api.get(path).status_code == 404
        keep_once(api, path, body)
    (team.kept / "model=iris" / "version=1" / f"hour={hour}" / name).unlink()  # not a log


def test_a_writer_keeps_its_files_while_the_server_is_down_and_sends_them_later(
        team: Team) -> None:
    ws = team.machine("f", "writer")
    try:
        dead = RestLogFiles.at(f"http://127.0.0.1:{free_port()}", team.keys["writer"])
        predlog = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=dead)
        signature = ws.store.registry.get_version("iris", 1)["signature"]
        from modelport.core.signature import Signature

        predlog.keep("iris", 1, Signature.from_dict(signature), "r1", X.values[:3],
                     Y.values[:3])
        assert predlog.flush() == 3  # written here; the upload failed
        assert (predlog.uploaded, predlog.upload_failures, predlog.unsent) == (0, 1, 1)
        [spooled] = logs_root(ws).rglob("part-*.parquet")
        predlog.flush()  # still down: tried again, still kept
        assert predlog.upload_failures == 2 and spooled.exists()
        metrics = predlog.gauges().decode()  # on /metrics, for a key that sees every model
        assert re.search(r'^modelport_prediction_log_unsent_files\{pid="\d+"\} 1$', metrics,
                         re.M)
        assert re.search(r'^modelport_prediction_log_upload_failures_total\{pid="\d+"\} 2$',
                         metrics, re.M)
        assert predlog.gauges(models={"iris"}) == b""  # not a model's: not for a narrow key
        predlog.spool.upload = uploads(ws)  # the server is back
        predlog.flush()
        assert (predlog.uploaded, predlog.unsent) == (1, 0) and not spooled.exists()
        assert spooled.name in {f.name for f in log_files(ws).list("iris", 1)}
        # a later writer on this machine picks up what an earlier one could not send
        predlog2 = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=dead)
        predlog2.keep("iris", 1, Signature.from_dict(signature), "r2", X.values[:2],
                      Y.values[:2])
        predlog2.flush()
        later = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
        later.flush()
        assert later.uploaded == 1 and not list(logs_root(ws).rglob("part-*.parquet"))
        dead.close()
    finally:
        close(ws)


@pytest.fixture
def label_stream_url() -> Iterator[str]:
    """A Redis stream of its own for this test, deleted after."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1.0).close()
    except OSError as exc:
        require_service("redis", f"nothing answers at {REDIS} ({exc})")
    url = f"{REDIS}/mp-test-labels-{uuid.uuid4().hex[:12]}"
    yield url
    for made in (url, brokers.dead_letter_url(url)):
        brokers.delete(made)


def publish(url: str, labels: dict[str, str]) -> None:
    sink = brokers.open_sink(url)
    try:
        sink.publish([json.dumps({"id": rid, "label": label}).encode()
                      for rid, label in labels.items()])
    finally:
        sink.close()


def test_labels_drained_on_one_machine_join_predictions_monitored_from_another(
        team: Team, label_stream_url: str) -> None:
    seen = set(read_window(team.kept, "iris", 1, 0).table.column("request_id").to_pylist())
    serve(team, "g", rows=30, batch=1)  # 30 requests of one row each, logged, uploaded
    window = read_window(team.kept, "iris", 1, 0).table
    predicted = {rid: p for rid, p in zip(window.column("request_id").to_pylist(),
                                          window.column("prediction").to_pylist(), strict=True)
                 if rid not in seen}
    assert len(predicted) == 30
    ids = sorted(predicted)
    # 20 right, 5 wrong; 5 not labelled yet
    truth = {rid: predicted[rid] for rid in ids[:20]} | {
        rid: str((int(predicted[rid]) + 1) % 3) for rid in ids[20:25]}
    publish(label_stream_url, truth)
    a = team.machine("g", "writer")  # the machine that served drains the labels too
    try:
        drained = drain(label_stream_url, [("iris", 1)], wait_s=1.0, ws=a)
    finally:
        close(a)
    assert (drained.labels, drained.malformed, drained.unsent) == (25, 0, 0)
    assert not list((team.homes / "g" / "labels").rglob("part-*"))  # sent, none left here
    assert len(LocalLogFiles(team.labels).list("iris", 1)) == 1
    b = team.machine("h", "reader")  # another machine, a read key
    try:
        [report] = monitor("iris", since_s=3600, ws=b)
        accuracy = report["accuracy"]
        assert (accuracy["labels"], accuracy["correct"]) == (25, 20)
        assert accuracy["source"] == "labels joined by request id"
        assert isinstance(label_files(b), RestLogFiles)
    finally:
        close(b)
    # another project's key, or one limited to other models, finds none
    [file] = LocalLogFiles(team.labels).list("iris", 1)
    for key, project in (("other", None), ("other", "b"), ("narrow", None)):
        with team.client(key, project) as api:
            for answer in (api.get(f"{API}/iris/1/labels"),
                           api.get(f"{API}/iris/1/labels/{file.hour}/{file.name}")):
                assert answer.status_code == 404 and answer.json()["code"] == "not_found", \
                    (key, project, answer.text)
    elsewhere = RestLogFiles.at(team.url, team.keys["other"], "b", kind=LABELS)
    try:
        with pytest.raises(NotFoundError):
            elsewhere.list("iris", 1)
    finally:
        elsewhere.close()


def test_labels_the_server_did_not_take_wait_here_and_go_with_the_next_drain(
        team: Team, label_stream_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(label_stream_url, {"kept-1": "0", "kept-2": "1", "kept-3": "2"})
    a = team.machine("i", "writer")
    dead = RestLogFiles.at(f"http://127.0.0.1:{free_port()}", team.keys["writer"],
                           kind=LABELS)
    try:
        monkeypatch.setattr(label_stream, "label_uploads", lambda ws: dead)  # server down
        drained = drain(label_stream_url, [("iris", 1)], wait_s=1.0, ws=a)
        assert (drained.labels, drained.unsent) == (3, 1)  # acknowledged: safe here
        [spooled] = labels_root(a).rglob("part-*.parquet")
        monkeypatch.undo()  # the server is back
        again = drain(label_stream_url, [("iris", 1)], wait_s=0.1, ws=a)
        assert (again.labels, again.unsent) == (0, 0)  # nothing re-read; the file went up
        assert not spooled.exists()
        assert spooled.name in {f.name for f in label_files(a).list("iris", 1)}
    finally:
        dead.close()
        close(a)


def test_the_server_removes_hours_past_its_retention(team: Team, tmp_path: Path) -> None:
    deadline = time.monotonic() + 10  # the server's first pass runs as it starts
    while any(p.exists() for p in team.planted["old"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(p.exists() for p in team.planted["old"])
    assert all(p.exists() for p in team.planted["recent"])
    # what a pass removes: hours ended before now - retention, of logs and labels alike
    now = time.time()
    files = [plant(tmp_path / kind, "iris", hour_of(now - hours * 3600))
             for kind in ("predictions", "labels") for hours in (3, 1)]
    state = SimpleNamespace(ws=SimpleNamespace(settings=SimpleNamespace(
        artifacts_url=str(tmp_path))), log_retention_s=2 * 3600)
    assert prune(state, now) == 2  # type: ignore[arg-type]
    assert [p.exists() for p in files] == [False, True, False, True]
    state.log_retention_s = None
    assert prune(state, now + 86400) == 0  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="invalid --log-retention 'soon'"):
        invoke("server", "--log-retention", "soon")


def test_an_admin_deletes_a_versions_logs_and_labels_and_the_audit_log_says_so(
        team: Team) -> None:
    admin = team.machine("admin", "admin")
    try:
        petals = X.iloc[:, 2:]
        register_model("petals", LogisticRegression(max_iter=200).fit(petals, Y), X=petals,
                       ws=admin)
    finally:
        close(admin)
    with team.client("writer") as api:
        one_of_each(api, "petals")
    for key, status in (("writer", 403), ("reader", 403), ("other", 404)):
        with team.client(key) as api:
            answer = api.delete(f"{API}/petals/1")
            assert answer.status_code == status and answer.json()["code"], (key, answer.text)
    with team.client("admin") as api:
        assert api.delete(f"{API}/petals/1").json() == {"files": 2}
        assert api.get(f"{API}/petals/1").json() == []
        assert api.get(f"{API}/petals/1/labels").json() == []
        assert api.delete(f"{API}/petals/1").json() == {"files": 0}  # again: nothing left
        assert api.delete(f"{API}/petals/9").status_code == 404  # no such version
        entries = api.get("/api/v1/audit", params={"limit": 20}).json()
    removals = [e for e in entries if e["method"] == "DELETE" and e["path"] == f"{API}/petals/1"]
    admin_name = "bootstrap admin (modelport server)"
    assert sorted((e["status"], e["key_name"]) for e in removals) == [
        (200, admin_name), (200, admin_name), (403, "reader"), (403, "writer"), (404, "other")]
    assert {e["route"] for e in removals} == {f"{API}/{{model}}/{{version}}"}
