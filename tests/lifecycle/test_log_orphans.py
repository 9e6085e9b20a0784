"""Logs whose model is gone: what a model deleted before deletes erased its files left
(``core/log_orphans.py``), and what an upload puts in place while a delete is under way.

A workspace without a server (its own directory, or an object store it logs to), models
in two projects: a name another project holds is no orphan."""

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
from modelport.lifecycle.predlogs import hour_of, log_files, prune_orphans
from modelport.lifecycle.registry import delete_model, register_model

X, Y = load_iris(return_X_y=True, as_frame=True)
HOUR = hour_of(1_765_000_000)
MEMORY = fsspec.filesystem("memory")


def _log(ws: Workspace, name: str, tmp: Path, kinds: tuple[str, ...] = (LOGS, LABELS)) -> None:
    """A file of each of ``kinds`` for ``name:1``, put where ``ws`` keeps them."""
    for kind in kinds:
        path = LocalLogFiles(tmp / uuid.uuid4().hex).directory(name, 1, HOUR) / \
            f"part-{uuid.uuid4().hex}.parquet"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"PAR1")
        open_log_files(ws.settings.artifacts_url, ws.artifacts, kind).put(name, 1, path)


def _listed(ws: Workspace, name: str) -> int:
    return sum(len(log_files(ws, kind).list(name, 1)) for kind in (LOGS, LABELS))


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


def test_the_logs_of_a_model_no_project_has_are_found_then_erased(
        settings: Settings, tmp_path: Path) -> None:
    a = Workspace.open(replace(settings, project="a"))
    b = Workspace.open(replace(settings, project="b"))
    _register(a, "iris")
    _register(b, "wine")
    for name in ("iris", "wine", "gone"):  # "gone": deleted before deletes erased
        _log(a, name, tmp_path)
    found = prune_orphans(erase=False, ws=a)
    assert (found.models, found.erased) == ({"gone": 2}, False)
    assert _listed(a, "gone") == 2  # a dry run erases nothing
    erased = prune_orphans(ws=a)
    assert (erased.models, erased.files, erased.erased) == ({"gone": 2}, 2, True)
    assert _listed(a, "gone") == 0
    assert (_listed(a, "iris"), _listed(b, "wine")) == (2, 2)  # b's is no orphan to a
    assert prune_orphans(erase=False, ws=a).models == {}


def test_a_file_put_in_place_while_the_records_go_goes_with_them(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload whose body was still arriving lands after the first erase and before
    the records' delete (it checks the records only after: the server takes back what
    lands once they are gone): the erase after the records' delete removes it."""
    ws = Workspace.open(settings)
    _register(ws, "iris")
    registry = ws.store.registry
    records_delete = registry.delete_model

    def landing_meanwhile(name: str) -> None:
        _log(ws, name, tmp_path, (LOGS,))
        records_delete(name)

    monkeypatch.setattr(registry, "delete_model", landing_meanwhile)
    delete_model("iris", ws=ws)
    monkeypatch.undo()
    assert _register(ws, "iris") == 1
    assert _listed(ws, "iris") == 0
