"""A workspace without a server: deleting a whole model erases its prediction logs and
labels (its artifact store's directory, or the object store it logs to), so a model
created later under its name — in any project — starts at version 1 with none; deleting
one version keeps that version's files, and its number is never given again."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import fsspec
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.log_stores import open_log_files
from modelport.core.logfiles import LABELS, LOGS, LocalLogFiles
from modelport.core.workspace import Workspace
from modelport.errors import NotFoundError, StoreUnavailableError
from modelport.lifecycle.predlogs import hour_of, log_files
from modelport.lifecycle.registry import delete_model, register_model

X, Y = load_iris(return_X_y=True, as_frame=True)
HOUR = hour_of(1_765_000_000)
MEMORY = fsspec.filesystem("memory")


def _log(ws: Workspace, name: str, version: int, tmp: Path) -> None:
    """One prediction-log and one label file of ``name:version``, where ``ws`` keeps them."""
    for kind in (LOGS, LABELS):
        path = LocalLogFiles(tmp / uuid.uuid4().hex).directory(name, version, HOUR) / \
            f"part-{uuid.uuid4().hex}.parquet"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"project a's logged inputs")
        open_log_files(ws.settings.artifacts_url, ws.artifacts, kind).put(name, version, path)


def _listed(ws: Workspace, name: str, version: int) -> list[object]:
    return [f for kind in (LOGS, LABELS) for f in log_files(ws, kind).list(name, version)]


def _register(ws: Workspace, name: str) -> int:
    return register_model(name, LogisticRegression(max_iter=300).fit(X, Y), X=X, ws=ws).version


@pytest.fixture(params=["directory", "memory"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "directory":
        return Settings(home=tmp_path / "home")
    bucket = f"mp-{uuid.uuid4().hex}"
    request.addfinalizer(lambda: MEMORY.rm(f"/{bucket}", recursive=True)
                         if MEMORY.exists(f"/{bucket}") else None)
    return Settings(home=tmp_path / "home", artifacts_url=f"memory://{bucket}")


def test_a_deleted_models_logs_never_reach_another_projects_model_of_its_name(
        settings: Settings, tmp_path: Path) -> None:
    a = Workspace.open(replace(settings, project="a"))
    _register(a, "iris")
    _log(a, "iris", 1, tmp_path)
    assert len(_listed(a, "iris", 1)) == 2
    delete_model("iris", ws=a)
    b = Workspace.open(replace(settings, project="b"))
    assert _register(b, "iris") == 1
    assert _listed(b, "iris", 1) == []


def test_deleting_one_version_keeps_its_logs_and_never_lends_them_to_the_next(
        settings: Settings, tmp_path: Path) -> None:
    ws = Workspace.open(settings)
    _register(ws, "iris")
    _log(ws, "iris", 1, tmp_path)
    delete_model("iris:1", ws=ws)
    assert _register(ws, "iris") == 2
    assert _listed(ws, "iris", 2) == []
    assert len(_listed(ws, "iris", 1)) == 2  # kept, as before (for an admin, or retention)


def test_deleting_a_model_erases_no_other_models_logs(settings: Settings,
                                                       tmp_path: Path) -> None:
    ws = Workspace.open(settings)
    for name in ("iris", "iris2", "iri"):  # names that begin alike
        _register(ws, name)
        _log(ws, name, 1, tmp_path)
    delete_model("iris", ws=ws)
    assert [len(_listed(ws, name, 1)) for name in ("iris", "iris2", "iri")] == [0, 2, 2]


def test_a_missing_model_erases_nothing(settings: Settings, tmp_path: Path) -> None:
    ws = Workspace.open(settings)
    _register(ws, "iris")
    _log(ws, "iris", 1, tmp_path)
    b = Workspace.open(replace(settings, project="b"))
    with pytest.raises(NotFoundError, match="iris"):
        delete_model("iris", ws=b)  # another project's: missing, its files stay
    assert len(_listed(ws, "iris", 1)) == 2



def test_a_file_that_would_not_go_keeps_the_model(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    _register(ws, "iris")
    _log(ws, "iris", 1, tmp_path)
    monkeypatch.setattr(LocalLogFiles, "remove", lambda self, model, version: 0)  # a disk error
    with pytest.raises(StoreUnavailableError, match="could not all be erased"):
        delete_model("iris", ws=ws)
    assert ws.store.registry.has_model("iris")  # its records, and so its files, stay its own
    assert len(_listed(ws, "iris", 1)) == 2


def test_a_writer_still_logging_a_deleted_model_never_feeds_the_next_one(
        settings: Settings) -> None:
    """No server checks a workspace's own store: a serving process that still logs the
    deleted ``iris:1`` writes its files there (or to the object store) after the erase.
    Each file says which ``iris:1`` it is of, and readers of the new one skip it."""
    from modelport.lifecycle.labels import label_files, labels_root, read_labels, write_labels
    from modelport.lifecycle.predlogs import logs_root, read_window, uploads
    from modelport.lifecycle.registry import get_version
    from modelport.runtimes.log_spool import Spool
    from modelport.runtimes.prediction_log import PredictionLog

    ws = Workspace.open(settings)
    _register(ws, "iris")
    old = get_version("iris:1", ws=ws)
    predlog = PredictionLog(logs_root(ws), 1.0, flush_s=3600, upload=uploads(ws))
    delete_model("iris", ws=ws)
    assert _register(ws, "iris") == 1
    new = get_version("iris:1", ws=ws)
    assert new.incarnation != old.incarnation
    predlog.keep("iris", 1, old.signature, "r1", X.values[:3], Y.values[:3], old.incarnation)
    predlog.flush()  # the old model's rows, written after its delete
    spool = Spool(labels_root(ws), uploads(ws, LABELS), "label")
    spool.added(write_labels(labels_root(ws), "iris", 1, ["r1"], ["0"],
                             incarnation=old.incarnation))
    spool.send()
    assert read_window(log_files(ws), "iris", 1, 0).rows == 3  # there, by name and number
    assert read_window(log_files(ws), "iris", 1, 0, incarnation=new.incarnation).rows == 0
    assert read_window(log_files(ws), "iris", 1, 0, incarnation=old.incarnation).rows == 3
    assert read_labels(label_files(ws), "iris", 1).by_request == {"r1": "0"}
    assert read_labels(label_files(ws), "iris", 1,
                       incarnation=new.incarnation).by_request == {}
