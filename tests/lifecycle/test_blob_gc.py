"""Blobs no record names: a failed registration (or a deleted version) leaves them, and the
collector removes them once no record names them and the grace period has passed."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.artifacts import sha256
from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError
from modelport.lifecycle.gc import collect_garbage
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import describe, register_artifact, register_model
from team_server import close, remote_workspace, team_server

X, Y = load_iris(return_X_y=True, as_frame=True)
HOUR = 3600.0


def _fitted(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=300).fit(X, Y)


def _aged(ws: Workspace, seconds: float) -> None:
    """Every blob of ``ws``'s directory as if last stored ``seconds`` ago."""
    then = time.time() - seconds
    for path in Path(ws.settings.artifacts_url).rglob("*"):
        os.utime(path, (then, then))


def test_the_collector_deletes_only_the_old_blobs_no_record_names(
        ws: Workspace, settings: Settings) -> None:
    """Any record, in any project (an ONNX copy, a version's sample…), and only while it
    still does (a deleted version's ``blob_owners`` rows are kept, and prove nothing); a
    failed registration's blobs wait for it."""
    iris = register_model("iris", _fitted(1.0), X=X, ws=ws)
    register_model("copy", _fitted(2.0), X=X, ws=ws)
    shared = ws.artifacts.get(iris.artifact_digest)
    ws.store.registry.set_onnx("copy", 1, {"digest": iris.artifact_digest, "size": len(shared)})
    stale = register_model("iris", _fitted(3.0), X=X, ws=ws)  # iris:2, deleted below
    for version in (2, 1):  # the rows naming both stay; only copy:1's ONNX names one now
        ws.store.registry.delete_version("iris", version)
    other = Workspace.open(dataclasses.replace(settings, project="b"))
    failed = describe(_fitted(4.0), X, None)
    left = failed.data
    with pytest.raises(ConflictError, match="iris"):  # the name is project default's
        register_artifact("iris", failed.format, left, failed.signature, ws=other)
    assert ws.artifacts.get(sha256(left)) == left  # a failed registration deletes nothing
    assert collect_garbage(ws=ws).deleted == []  # all stored within the hour
    _aged(ws, 2 * HOUR)
    unnamed = sorted([stale.artifact_digest, sha256(left)])
    dry = collect_garbage(HOUR, dry_run=True, ws=ws)
    assert sorted(dry.deleted) == unnamed and dry.dry_run
    assert all(ws.artifacts.exists(d) for d in unnamed)
    assert sorted(collect_garbage(HOUR, ws=ws).deleted) == unnamed
    assert not any(ws.artifacts.exists(d) for d in unnamed)
    assert ws.artifacts.get(iris.artifact_digest) == shared  # copy:1's ONNX copy names it
    assert load("copy:1", ws=ws).predict(X.head(2)).shape[0] == 2  # its blobs all kept


def test_a_writer_whose_registration_fails_is_told_why_not_about_the_cleanup(
        tmp_path: Path) -> None:
    """Behind a server only an admin deletes blobs: the cleanup of a writer's failed
    registration is refused there, and must not hide the registration's own error."""
    with team_server(Settings(home=tmp_path / "server")) as (url, admin):
        owner = remote_workspace(url, admin, tmp_path / "a")
        try:
            register_model("iris", _fitted(1.0), X=X, ws=owner)
            key = create_key("w", ["write"], None, projects=["b"], ws=owner)[1]
        finally:
            close(owner)
        writer = remote_workspace(url, key, tmp_path / "b", project="b")
        try:
            with pytest.raises(ConflictError, match="iris"):  # not "may not admin"
                register_model("iris", _fitted(2.0), X=X, ws=writer)
        finally:
            close(writer)
