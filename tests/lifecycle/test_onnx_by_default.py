"""The fast path by default: train, tune and automl register a parity-checked ONNX
copy whenever the model converts, so serving the version at once uses onnxruntime;
a model that does not convert is registered all the same, on its native runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelport.core.formats.sklearn import SklearnFormat
from modelport.core.workspace import Workspace
from modelport.lifecycle.automl import automl
from modelport.lifecycle.datasets import load_dataset
from modelport.lifecycle.loading import export_onnx, load, onnx_note
from modelport.lifecycle.registry import Stored
from modelport.lifecycle.train import train
from modelport.lifecycle.tune import tune

# what these check does not depend on the metadata store; its records (runs, versions,
# jobs) are tested on PostgreSQL too in tests/core/store and tests/lifecycle/test_registry
pytestmark = pytest.mark.storage_independent

pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every model scikit-learn's format builds from bytes, in order."""
    built: list[Any] = []
    original = SklearnFormat.load_model

    def load_model(self: SklearnFormat, data: bytes) -> Any:
        built.append(original(self, data))
        return built[-1]

    monkeypatch.setattr(SklearnFormat, "load_model", load_model)
    return built


def test_train_registers_a_checked_onnx_copy_that_serving_uses(ws: Workspace) -> None:
    version = train("sklearn:iris", "target", "logistic_regression", name="iris", cv=2,
                    ws=ws).version
    assert version is not None and version.onnx is not None
    assert version.onnx["passed"] is True and version.onnx["rows"] > 0
    assert version.onnx["max_abs_diff"] < 1e-4 and version.onnx["labels_agree"] == 1.0
    assert ws.artifacts.get(version.onnx["digest"])  # the copy's bytes, digest-checked
    served = load("iris:1", runtime="auto", ws=ws)
    assert served.runtime == "onnx"
    rows = load_dataset("sklearn:iris").frame.drop(columns=["target"])
    native = load("iris:1", runtime="native", ws=ws)
    assert np.array_equal(served.predict(rows), native.predict(rows))
    assert "ONNX copy checked" in onnx_note(version)


def test_a_model_that_cannot_convert_is_registered_on_its_native_runtime(
        ws: Workspace) -> None:
    version = train("sklearn:iris", "target", "sklearn.neighbors.NearestCentroid",
                    name="centroid", cv=2, ws=ws).version
    assert version is not None and version.ref == "centroid:1"
    assert version.onnx is not None and version.onnx["passed"] is False
    assert "NearestCentroid" in version.onnx["error"]
    assert load("centroid:1", runtime="auto", ws=ws).runtime == "sklearn"
    note = onnx_note(version)
    assert note.startswith("centroid:1 has no ONNX copy:") and "native runtime" in note
    assert "\n" not in note


def test_onnx_false_registers_the_native_model_only(ws: Workspace) -> None:
    version = train("sklearn:iris", "target", "logistic_regression", name="iris", cv=2,
                    onnx=False, ws=ws).version
    assert version is not None and version.onnx is None
    assert load("iris:1", runtime="auto", ws=ws).runtime == "sklearn"


def test_tune_and_automl_register_the_copy_before_moving_the_alias(ws: Workspace,
                                                                  loads: list[Any]) -> None:
    tuned = tune("sklearn:iris", "target", "logistic_regression", trials=2, cv=2,
                 name="tuned", promote=True, ws=ws).version
    assert tuned is not None and tuned.aliases == ["champion"]
    assert tuned.onnx is not None and tuned.onnx["passed"] is True
    assert load("tuned@champion", runtime="auto", ws=ws).runtime == "onnx"
    found = automl("sklearn:iris", "target", budget=4, families=["linear"], cv=2,
                   name="auto", ws=ws).version
    assert found is not None and found.onnx is not None and found.onnx["passed"] is True
    skipped = automl("sklearn:iris", "target", budget=4, families=["linear"], cv=2,
                     name="auto", onnx=False, ws=ws).version
    assert skipped is not None and skipped.onnx is None
    assert len(loads) == 3  # each registration loaded its stored model once


def test_registering_loads_the_stored_model_once(ws: Workspace, loads: list[Any]) -> None:
    """The ONNX export converts the model registration loaded from the stored bytes (the
    allow-listed skops load), not a second load of them, nor the object that was fitted."""
    trained = train("sklearn:iris", "target", "logistic_regression", name="iris", cv=2,
                    ws=ws)
    assert trained.version is not None and trained.version.onnx is not None
    assert trained.version.onnx["passed"] is True
    assert trained.stored is not None and len(loads) == 1
    assert trained.stored.model is loads[0]
    assert trained.stored.digest == trained.version.artifact_digest


def test_a_model_not_from_the_versions_bytes_is_not_exported(ws: Workspace,
                                                              loads: list[Any]) -> None:
    """Handed a model whose digest is not the version's, the export loads the version's
    own artifact: what gets an ONNX copy is always what was stored and digest-checked."""
    from sklearn.dummy import DummyClassifier

    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns=["target"]), frame["target"]
    version = train(frame, "target", "logistic_regression", name="iris", cv=2, onnx=False,
                    ws=ws).version
    assert version is not None
    other = DummyClassifier(strategy="constant", constant=0).fit(X, y)
    loads.clear()
    for digest in ("0" * 64, ws.artifacts.put(b"other bytes")):
        exported = export_onnx(version.ref, ws=ws, stored=Stored(digest, other))
        assert len(loads) == 1 and loads.pop() is not other
        assert exported.onnx is not None and exported.onnx["passed"] is True
        onnx = load(version.ref, runtime="onnx", ws=ws).predict(X)
        assert np.array_equal(onnx, load(version.ref, runtime="native", ws=ws).predict(X))
        assert len(set(onnx)) == 3  # the stored regression, not the constant impostor
        loads.clear()
