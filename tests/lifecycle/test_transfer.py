"""Copying versions into another workspace: same numbers, same digests, checked bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.artifacts import LocalArtifactStore
from modelport.core.workspace import Workspace
from modelport.errors import ArtifactIntegrityError, ConflictError
from modelport.lifecycle.loading import export_onnx, load
from modelport.lifecycle.registry import get_model, register_model, set_alias
from modelport.lifecycle.transfer import blobs_of, copy_versions


@pytest.fixture
def source(ws: Workspace) -> Workspace:
    """iris:1 and iris:2 (with its ONNX copy, and the champion alias)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    for c in (1.0, 0.1):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)
    export_onnx("iris:2", ws=ws)
    set_alias("iris", "champion", 2, ws=ws)
    return ws


def target(tmp_path: Path) -> Workspace:
    return Workspace.open(Settings(home=tmp_path / "copy"))


def test_a_copy_keeps_number_digests_onnx_and_alias(source: Workspace, tmp_path: Path) -> None:
    dest = target(tmp_path)
    (copied,) = copy_versions(["iris@champion", "iris:2"], source, dest)
    original = source.store.registry.get_version("iris", 2)
    assert copied.ref == "iris:2"
    assert copied.artifact_digest == original["artifact_digest"]
    assert copied.onnx == original["onnx"] and copied.onnx_ready
    assert get_model("iris", ws=dest).aliases == {"champion": 2}
    assert all(dest.artifacts.exists(d) for d in blobs_of(copied))
    assert len(blobs_of(copied)) == 4  # artifact, sample, profile, ONNX copy
    frame = [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5,
              "petal length (cm)": 1.4, "petal width (cm)": 0.2}]
    assert load("iris@champion", "onnx", ws=dest).predict(frame).tolist() == \
        load("iris:2", "onnx", ws=source).predict(frame).tolist()


def test_a_tampered_blob_is_not_copied(source: Workspace, tmp_path: Path) -> None:
    if not isinstance(source.artifacts, LocalArtifactStore):
        pytest.fail("the fixture's artifact store is local")
    digest = source.store.registry.get_version("iris", 1)["artifact_digest"]
    path = source.artifacts._path(digest)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the last byte
    dest = target(tmp_path)
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded digest"):
        copy_versions(["iris:1"], source, dest)
    assert not dest.artifacts.exists(digest)
    assert not dest.store.registry.has_model("iris")


def test_a_number_taken_in_the_target_is_refused(source: Workspace, tmp_path: Path) -> None:
    dest = target(tmp_path)
    copy_versions(["iris:1"], source, dest)
    with pytest.raises(ConflictError, match="iris:1 exists or existed"):
        copy_versions(["iris:1"], source, dest)
