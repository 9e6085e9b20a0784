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
    for version in (2, 1):  # the rows naming both stay; only copy:1's ONNX names one now
        ws.store.registry.delete_version("iris", version)
    assert ws.store.registry.referenced_digests(
        [iris.artifact_digest, stale.artifact_digest]) == {iris.artifact_digest}
    other = Workspace.open(dataclasses.replace(settings, project="b"))
    fresh = register_model("spare", _fitted(4.0), X=X, ws=other)  # bytes stored first below
    data = other.artifacts.get(fresh.artifact_digest)
    other.store.registry.delete_model("spare")
    other.artifacts.delete(fresh.artifact_digest)
    for blob in (shared, data):
        with pytest.raises(ConflictError, match="iris"):  # the name is project default's
            register_artifact("iris", iris.format, blob, iris.signature, ws=other)
    assert ws.artifacts.get(iris.artifact_digest) == shared  # copy:1's ONNX copy names it
    assert not ws.artifacts.exists(fresh.artifact_digest)  # stored by the failure: gone


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


def test_a_failed_registration_leaves_a_blob_it_found_already_stored(
        ws: Workspace, settings: Settings) -> None:
    """A blob no record names yet may be another writer's, uploaded for a registration not
    recorded yet (an upload names nothing): a failed registration of the same bytes —
    models trained alike share their sample and profile — must not take it away."""
    iris = register_model("iris", _fitted(1.0), X=X, ws=ws)
    data = ws.artifacts.get(iris.artifact_digest)
    ws.store.registry.delete_model("iris")  # nothing names the bytes now…
    ws.artifacts.put(data)  # …and a writer stores them again, its version not recorded yet
    register_model("iris", _fitted(2.0), X=X, ws=ws)  # a name project default holds
    other = Workspace.open(dataclasses.replace(settings, project="b"))
    with pytest.raises(ConflictError, match="iris"):
        register_artifact("iris", iris.format, data, iris.signature, ws=other)
    assert ws.artifacts.get(iris.artifact_digest) == data
