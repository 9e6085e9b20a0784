"""GC of a failed registration: the blobs it wrote go unless some record names them — any
record, in any project (an ONNX copy, a stream's checkpoint…), and only while it still
does (a deleted version's ``blob_owners`` rows are kept, and prove nothing)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError
from modelport.lifecycle.registry import register_artifact, register_model
from team_server import close, remote_workspace, team_server

X, Y = load_iris(return_X_y=True, as_frame=True)


def _fitted(c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=300).fit(X, Y)


def test_a_failed_registration_deletes_only_the_blobs_no_record_names(
        ws: Workspace, settings: Settings) -> None:
    iris = register_model("iris", _fitted(1.0), X=X, ws=ws)
    register_model("copy", _fitted(2.0), X=X, ws=ws)
    shared = ws.artifacts.get(iris.artifact_digest)
    ws.store.registry.set_onnx("copy", 1, {"digest": iris.artifact_digest, "size": len(shared)})
    stale = register_model("iris", _fitted(3.0), X=X, ws=ws)  # iris:2, deleted below
    stale_bytes = ws.artifacts.get(stale.artifact_digest)
    for version in (2, 1):  # the rows naming both stay; only copy:1's ONNX names one now
        ws.store.registry.delete_version("iris", version)
    other = Workspace.open(dataclasses.replace(settings, project="b"))
    orphan = None
    for data in (shared, stale_bytes, None):
        if data is None:  # bytes no record ever named
            orphan = register_model("spare", _fitted(4.0), X=X, ws=other)
            data = other.artifacts.get(orphan.artifact_digest)
            other.store.registry.delete_model("spare")
        with pytest.raises(ConflictError, match="iris"):  # the name is project default's
            register_artifact("iris", iris.format, data, iris.signature, ws=other)
    assert ws.artifacts.exists(iris.artifact_digest)  # copy:1's ONNX copy still names it
    assert ws.artifacts.get(iris.artifact_digest) == shared
    assert not ws.artifacts.exists(stale.artifact_digest)  # a stale row kept nothing
    assert orphan is not None and not ws.artifacts.exists(orphan.artifact_digest)


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
