"""Prediction logs: sampled served rows in Parquet, written off the loop, never half a file."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from modelport.config import Settings
from modelport.core.logfiles import LocalLogFiles
from modelport.core.signature import ColumnSpec, Signature
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.labels import labels_root, writer_retention
from modelport.lifecycle.predlogs import hour_of, logs_root, read_window
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService
from servers import start_server, stop_server

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROW = [5.1, 3.5, 1.4, 0.2]


def oip(rows: list[list[float]], request_id: str) -> Request:
    body = {"inputs": [{"name": c, "shape": [len(rows)], "datatype": "FP64",
                        "data": [r[j] for r in rows]} for j, c in enumerate(COLUMNS)]}
    return Request("POST", "/v2/models/flowers/infer", {"x-request-id": request_id},
                   json.dumps(body).encode())


@pytest.fixture
def logged(model_home: Path, tmp_path: Path
           ) -> Iterator[tuple[ServingApp, asyncio.AbstractEventLoop, PredictionLog]]:
    ws = Workspace.open(Settings(home=model_home))
    predlog = PredictionLog(tmp_path / "predictions", sample=1.0, flush_s=3600)
    served = ServingApp(InferenceService(Repository(["flowers"], ws=ws), predlog))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(served.startup())
    yield served, loop, predlog
    loop.run_until_complete(served.shutdown())
    loop.close()
    forget_stores()


def test_sampled_rows_inputs_outputs_and_ids_reach_parquet(logged) -> None:  # type: ignore
    served, loop, predlog = logged
    for i in range(20):
        response = loop.run_until_complete(served.respond(oip([ROW, [6.7, 3.0, 5.2, 2.3]],
                                                              f"req-{i}")))
        assert response.status == 200
    assert predlog.flush() == 40
    window = read_window(predlog.root, "flowers", 1, time.time() - 60)
    table = window.table.to_pydict()
    assert window.rows == 40 and window.unreadable == 0
    assert table["request_id"][:2] == ["req-0", "req-0"] and table["request_id"][-1] == "req-19"
    assert table["in.sepal length (cm)"][:2] == [5.1, 6.7]
    assert table["prediction"][:2] == ["setosa", "virginica"]  # class labels, as text
    assert all(time.time() - 60 < ts <= time.time() for ts in table["ts"])
    files = list(predlog.root.glob("model=flowers/version=1/hour=*/part-*.parquet"))
    assert len(files) == 1 and not list(predlog.root.rglob(".tmp-*"))


def test_sampling_share_and_the_bounded_buffer(tmp_path: Path) -> None:
    signature = Signature([ColumnSpec("a", "float64")])
    predlog = PredictionLog(tmp_path, sample=0.1, max_rows=1_000_000)
    for i in range(5000):
        predlog.record("m", 1, signature, str(i), np.ones((1, 1)), np.zeros(1))
    kept = predlog.flush()
    assert 350 < kept < 650  # binomial(5000, 0.1): 500 ± 7 sd
    full = PredictionLog(tmp_path, sample=1.0, max_rows=100)
    for i in range(30):
        full.record("m", 1, signature, str(i), np.ones((10, 1)), np.zeros(10))
    assert full.dropped == 200 and full.flush() == 100  # dropped and counted, never blocking
    off = PredictionLog(tmp_path, sample=0.0)
    off.record("m", 1, signature, "x", np.ones((1, 1)), np.zeros(1))
    assert off.flush() == 0


def test_bulk_columns_keep_rows_ids_versions_and_hours_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer builds each version's columns in bulk: rows of multi-row requests and
    per-row ids stay aligned, versions get their own files, and rows answered on each
    side of an hour's end land in their own hour."""
    signature = Signature([ColumnSpec("a", "float64"), ColumnSpec("b", "float64")])
    predlog = PredictionLog(tmp_path, sample=1.0)
    clock = iter([7199.5, 7199.9, 7200.1, 7300.0])  # 01:59:59.5 … 02:01:40 UTC, 1970-01-01
    monkeypatch.setattr(time, "time", lambda: next(clock))
    predlog.record("m", 1, signature, "r1", np.array([[1.0, 2.0], [3.0, 4.0]]),
                   np.array([0.5, 0.6]))
    predlog.record("m", 2, signature, "r2", np.array([[5.0, 6.0]]), np.array([0.7]))
    predlog.record("m", 1, signature, ["e1", "e2"], np.array([[7.0, 8.0], [9.0, 10.0]]),
                   np.array([[0.8], [0.9]]))
    predlog.record("m", 1, signature, "r4", np.array([[11.0, 12.0]]), np.array([1.0]))
    monkeypatch.undo()
    assert predlog.flush() == 6
    tables = {path.parent.name: pq.read_table(path).to_pydict()
              for path in sorted(tmp_path.glob("model=m/version=1/hour=*/part-*.parquet"))}
    assert sorted(tables) == ["hour=1970-01-01T01", "hour=1970-01-01T02"]
    before, after = tables["hour=1970-01-01T01"], tables["hour=1970-01-01T02"]
    assert before["request_id"] == ["r1", "r1"] and before["in.b"] == [2.0, 4.0]
    assert after["request_id"] == ["e1", "e2", "r4"] and after["in.a"] == [7.0, 9.0, 11.0]
    assert after["prediction"] == [0.8, 0.9, 1.0] and before["ts"] == [7199.5, 7199.5]
    (other,) = tmp_path.glob("model=m/version=2/hour=*/part-*.parquet")
    assert pq.read_table(other).to_pydict()["in.b"] == [6.0]


def test_retention_removes_old_hours_only(tmp_path: Path) -> None:
    signature = Signature([ColumnSpec("a", "float64")])
    predlog = PredictionLog(tmp_path, sample=1.0)
    predlog.record("m", 1, signature, "now", np.ones((1, 1)), np.zeros(1))
    predlog.flush()
    old = tmp_path / "model=m" / "version=1" / "hour=2020-01-01T00"
    old.mkdir(parents=True)
    (old / "part-x.parquet").write_bytes(b"")
    (tmp_path / "model=m" / "version=1" / "hour=not-an-hour").mkdir()  # not the writer's
    assert LocalLogFiles(tmp_path).remove_older(time.time() - 7 * 86400) == 1
    assert not old.exists() and read_window(tmp_path, "m", 1, 0).rows == 1
    assert (tmp_path / "model=m" / "version=1" / "hour=not-an-hour").exists()


def test_a_writers_retention_removes_the_old_hours_of_its_labels_too(tmp_path: Path) -> None:
    """One ``--log-retention`` for a writer: the delayed labels beside its logs lose their
    old hours in the same pass, as they do on the team server."""
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    try:
        now = time.time()
        planted = {(kind, days): plant(root, hour_of(now - days * 86400))
                   for kind, root in (("logs", logs_root(ws)), ("labels", labels_root(ws)))
                   for days in (10, 1)}
        predlog = PredictionLog(logs_root(ws), 1.0, writer_retention(ws, 7 * 86400),
                                flush_s=0.01)
        predlog.start()  # the writer thread's first pass looks for old hours
        try:
            deadline = time.monotonic() + 30
            while any(planted[kind, 10].exists() for kind in ("logs", "labels")) \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            predlog.close()
        assert {key: path.exists() for key, path in planted.items()} == {
            ("logs", 10): False, ("logs", 1): True, ("labels", 10): False, ("labels", 1): True}
        assert writer_retention(ws, None) is None  # kept forever by default
    finally:
        forget_stores()


def plant(root: Path, hour: str) -> Path:
    """A file in ``root``'s layout (retention looks at hours only)."""
    path = LocalLogFiles(root).directory("m", 1, hour) / f"part-{'a' * 32}.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1")
    return path


WRITER = """
import sys, time, numpy as np
from pathlib import Path
from modelport.core.signature import ColumnSpec, Signature
from modelport.runtimes.prediction_log import PredictionLog
signature = Signature([ColumnSpec(f"c{i}", "float64") for i in range(20)])
log = PredictionLog(Path(sys.argv[1]), sample=1.0, flush_s=0.001, max_rows=200_000)
log.start()
print("ready", flush=True)
while True:
    log.record("big", 1, signature, "r", np.random.rand(50_000, 20), np.random.rand(50_000))
    time.sleep(0.01)
"""


def test_a_killed_writer_never_leaves_a_file_a_reader_takes_for_complete(tmp_path: Path
                                                                         ) -> None:
    for attempt in range(3):
        with subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)],
                              stdout=subprocess.PIPE, env=os.environ.copy()) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
            written = len(list(tmp_path.rglob("part-*.parquet")))
            deadline = time.monotonic() + 60  # a loaded machine writes slowly
            while len(list(tmp_path.rglob("part-*.parquet"))) == written \
                    and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.13 * attempt)  # then mid-write of the next files, at different points
            os.kill(proc.pid, signal.SIGKILL)
    visible = list(tmp_path.rglob("part-*.parquet"))
    assert len(visible) >= 3, "the writer wrote nothing in a minute"
    for path in visible:  # every visible file is whole: it reads, and it has every row
        assert pq.read_table(path).num_rows % 50_000 == 0
    window = read_window(tmp_path, "big", 1, 0)
    assert window.unreadable == 0 and window.rows == 50_000 * (window.rows // 50_000)


@pytest.fixture
def home(model_home: Path, tmp_path: Path) -> Path:
    """A copy of the served workspace, so the logs a test makes are its own."""
    copy = tmp_path / "home"
    shutil.copytree(model_home, copy)
    return copy


def test_serve_log_sample_writes_logs_and_flushes_on_stop(home: Path) -> None:
    server = start_server(home, "flowers", "--log-sample", "1", "--log-retention", "7d")
    try:
        with server.client() as client:
            for i in range(10):
                body = json.loads(oip([ROW], f"srv-{i}").body)
                assert client.post("/v2/models/flowers/infer", json=body,
                                   headers={"x-request-id": f"srv-{i}"}).status_code == 200
    finally:
        stop_server(server)  # SIGTERM: the worker writes what it buffered before it exits
    root = home / "artifacts" / "predictions"
    window = read_window(root, "flowers", 1, time.time() - 120)
    ids = window.table.column("request_id").to_pylist()
    assert sorted(ids) == sorted(f"srv-{i}" for i in range(10))


def test_bad_log_settings_are_one_line(model_home: Path) -> None:
    for args, message in ((["--log-sample", "1.5"], "between 0 and 1"),
                          (["--log-sample", "0.1", "--log-retention", "soon"],
                           "invalid --log-retention")):
        out = subprocess.run([sys.executable, "-m", "modelport", "serve", *args],
                             env={**os.environ, "MODELPORT_HOME": str(model_home)},
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 1 and message in out.stderr
        assert "Traceback" not in out.stderr


def test_kill_9_of_a_logging_server_leaves_only_whole_files(home: Path) -> None:
    server = start_server(home, "flowers", "--log-sample", "1")
    root = home / "artifacts" / "predictions"
    try:
        body = json.loads(oip([ROW] * 200, "k").body)
        with server.client() as client:
            deadline = time.time() + 40
            while not list(root.rglob("part-*.parquet")) and time.time() < deadline:
                client.post("/v2/models/flowers/infer", json=body)  # until a flush lands
            for _ in range(20):
                client.post("/v2/models/flowers/infer", json=body)  # buffered, not flushed
    finally:
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    window = read_window(root, "flowers", 1, time.time() - 120)
    assert window.rows > 0 and window.rows % 200 == 0 and window.unreadable == 0


def test_an_imported_graphs_rows_are_logged_with_their_prediction_only(tmp_path: Path) -> None:
    from modelport.core.signature import Signature
    from modelport.core.tensor_inputs import TensorBatch, TensorSpec

    signature = Signature(inputs=[], tensors=[TensorSpec("user_id", "int64", [-1, 1])])
    predlog = PredictionLog(tmp_path, sample=1.0)
    ids = TensorBatch({"user_id": np.array([[1], [2], [3]])})
    predlog.record("recs", 1, signature, "req-1", ids, np.array([[0.5], [0.25], [0.75]]))
    predlog.record("recs", 1, signature, "req-2", ids, np.ones((3, 8)))  # an embedding
    assert predlog.flush() == 3 and predlog.dropped == 0
    table = read_window(tmp_path, "recs", 1, time.time() - 60).table.to_pydict()
    assert table["prediction"] == [0.5, 0.25, 0.75] and set(table) == {"ts", "request_id",
                                                                        "prediction"}


FREEZE = """
import gc, sys
from pathlib import Path
from modelport.runtimes.prediction_log import PredictionLog
log = PredictionLog(Path(sys.argv[1]), sample=0.1)
log.start()
gc.freeze()  # what a serving worker does once its start-up returns
log.close()  # whatever the writer thread loads, it has loaded now
print(int("pandas" in sys.modules), len(gc.get_objects()), gc.get_freeze_count())
"""


def test_the_writer_is_loaded_before_start_returns(tmp_path: Path) -> None:
    """A server freezes what its start-up made (libraries, models) out of the collector's
    way; pyarrow and pandas, loaded for the log, must be part of that — not loaded on the
    writer thread afterwards and walked by every collection while serving (a server
    logging 10 % tracked 37,000 more objects)."""
    out = subprocess.run([sys.executable, "-c", FREEZE, str(tmp_path)], check=True,
                         capture_output=True, text=True).stdout.split()
    loaded, tracked, frozen = map(int, out)
    assert loaded == 1
    assert tracked < 5_000 < frozen  # pandas alone is tens of thousands of objects
