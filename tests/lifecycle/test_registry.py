from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest
from _workers import register_many
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeRegressor

from modelport.core.workspace import Workspace
from modelport.errors import (
    ArtifactIntegrityError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    UnsafeArtifactError,
)
from modelport.lifecycle import loading
from modelport.lifecycle import registry as reg
from modelport.lifecycle.refs import Ref, parse_ref


@pytest.fixture
def clf(iris):  # type: ignore[no-untyped-def]
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    return LogisticRegression(max_iter=500).fit(X, y), X


def test_register_versions_signature_and_example(ws: Workspace, clf) -> None:  # type: ignore
    model, X = clf
    v1 = reg.register_model("iris", model, X=X, metrics={"acc": 0.9}, description="first",
                            tags={"owner": "me"}, ws=ws)
    v2 = reg.register_model("iris", model, X=X, ws=ws)
    assert (v1.version, v2.version) == (1, 2)
    assert v1.format == "sklearn"
    assert v1.signature.names == list(X.columns)
    assert v1.signature.classes == [0, 1, 2]
    assert [o.name for o in v1.signature.outputs] == ["prediction", "probabilities"]
    assert v1.input_example is not None and len(v1.input_example) == 5
    assert v1.input_example[0] == {k: float(v) for k, v in X.iloc[0].items()}
    assert v1.metrics == {"acc": 0.9} and v1.description == "first"
    assert v1.tags == {"owner": "me"}
    sample = loading.load_sample(v1, ws=ws)
    assert sample is not None and sample.shape == (len(X), 4)
    model_info = reg.get_model("iris", ws=ws)
    assert model_info.latest_version == 2 and model_info.versions == 2


def test_references_resolve(ws: Workspace, clf) -> None:  # type: ignore[no-untyped-def]
    model, X = clf
    for _ in range(3):
        reg.register_model("iris", model, X=X, ws=ws)
    assert reg.get_version("iris", ws=ws).version == 3  # no champion: the latest
    reg.set_alias("iris", "champion", 2, ws=ws)
    assert reg.get_version("iris", ws=ws).version == 2  # bare name: the champion
    assert reg.get_version("iris@latest", ws=ws).version == 3
    assert reg.get_version("iris:1", ws=ws).version == 1
    assert reg.get_version("iris@champion", ws=ws).aliases == ["champion"]
    reg.set_alias("iris", "champion", 3, ws=ws)  # aliases move
    assert reg.get_version("iris@champion", ws=ws).version == 3
    reg.delete_alias("iris", "champion", ws=ws)
    with pytest.raises(NotFoundError, match="modelport models alias iris champion"):
        reg.get_version("iris@champion", ws=ws)


@pytest.mark.parametrize("ref, message", [
    ("nosuch", "model 'nosuch' not found"),
    ("nosuch:1", "model 'nosuch' not found"),
    ("iris:9", "has no version 9"),
    ("iris@nosuch", "has no alias 'nosuch'"),
])
def test_unknown_references(ws: Workspace, clf, ref: str, message: str) -> None:  # type: ignore
    model, X = clf
    reg.register_model("iris", model, X=X, ws=ws)
    with pytest.raises(NotFoundError, match=message):
        reg.get_version(ref, ws=ws)


@pytest.mark.parametrize("ref", ["", "iris:", "iris:0", "iris:x", "iris@", "-bad", "a b",
                                 "iris@1x", "iris@la test"])
def test_malformed_references(ref: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_ref(ref)


def test_parse_ref() -> None:
    assert parse_ref("m") == Ref("m")
    assert parse_ref("m:3") == Ref("m", version=3)
    assert parse_ref("m@prod") == Ref("m", alias="prod")
    assert str(parse_ref("m@prod")) == "m@prod"


def test_alias_on_missing_version_and_bad_alias(ws: Workspace, clf) -> None:  # type: ignore
    model, X = clf
    reg.register_model("iris", model, X=X, ws=ws)
    with pytest.raises(NotFoundError, match="no version 7"):
        reg.set_alias("iris", "champion", 7, ws=ws)
    with pytest.raises(InvalidInputError, match="reserved"):
        reg.set_alias("iris", "latest", 1, ws=ws)


def test_tags_and_descriptions(ws: Workspace, clf) -> None:  # type: ignore[no-untyped-def]
    model, X = clf
    reg.register_model("iris", model, X=X, ws=ws)
    reg.set_tag("iris", "domain", "botany", ws=ws)
    reg.set_tag("iris:1", "validated", "yes", ws=ws)
    reg.set_description("iris", "flowers", ws=ws)
    reg.set_description("iris:1", "baseline", ws=ws)
    assert reg.get_model("iris", ws=ws).tags == {"domain": "botany"}
    assert reg.get_model("iris", ws=ws).description == "flowers"
    v = reg.get_version("iris:1", ws=ws)
    assert v.tags == {"validated": "yes"} and v.description == "baseline"


def test_delete_version_and_model(ws: Workspace, clf) -> None:  # type: ignore[no-untyped-def]
    model, X = clf
    for _ in range(2):
        reg.register_model("iris", model, X=X, ws=ws)
    reg.set_alias("iris", "champion", 2, ws=ws)
    reg.delete_model("iris:2", ws=ws)
    assert [v.version for v in reg.list_versions("iris", ws=ws)] == [1]
    assert reg.get_model("iris", ws=ws).aliases == {}  # the alias went with its version
    assert reg.register_model("iris", model, X=X, ws=ws).version == 3  # numbers never reused
    with pytest.raises(NotFoundError):
        reg.delete_model("iris:2", ws=ws)
    with pytest.raises(InvalidInputError, match="not an alias"):
        reg.delete_model("iris@champion", ws=ws)
    reg.delete_model("iris", ws=ws)
    assert reg.list_models(ws=ws) == []
    with pytest.raises(NotFoundError):
        reg.delete_model("iris", ws=ws)


def test_load_predicts_and_validates(ws: Workspace, clf) -> None:  # type: ignore[no-untyped-def]
    model, X = clf
    reg.register_model("iris", model, X=X, ws=ws)
    predictor = loading.load("iris", ws=ws)
    assert (predictor.name, predictor.version) == ("iris", 1)
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X[::-1].iloc[:, ::-1]),
                               model.predict_proba(X[::-1]))
    with pytest.raises(SchemaError, match="missing column 'petal width \\(cm\\)'"):
        predictor.predict(X.drop(columns="petal width (cm)"))
    with pytest.raises(SchemaError, match="expected 4 columns"):
        predictor.predict(np.zeros((2, 3)))
    with pytest.raises(SchemaError, match="sepal length"):
        predictor.predict([{**X.iloc[0].to_dict(), "sepal length (cm)": "long"}])


def test_regressor_has_no_probabilities(ws: Workspace, iris) -> None:  # type: ignore
    X, y = iris.frame.drop(columns="target"), iris.frame["target"] * 1.5
    reg.register_model("reg", DecisionTreeRegressor(max_depth=3).fit(X, y), X=X, ws=ws)
    predictor = loading.load("reg", ws=ws)
    assert predictor.signature.classes is None
    assert predictor.predict_outputs(X.head(2)).keys() == {"prediction"}
    with pytest.raises(SchemaError, match="regressor"):
        predictor.predict_proba(X.head(2))


def test_tampered_artifact_is_refused_on_load(ws: Workspace, clf) -> None:  # type: ignore
    model, X = clf
    v = reg.register_model("iris", model, X=X, ws=ws)
    path = ws.settings.home / "artifacts" / "sha256" / v.artifact_digest[:2] / v.artifact_digest[2:]
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match="refusing to load"):
        loading.load("iris", ws=ws)


def test_unsafe_model_is_never_stored(ws: Workspace, iris) -> None:  # type: ignore
    import os

    from sklearn.preprocessing import FunctionTransformer

    X = iris.frame.drop(columns="target")
    evil = FunctionTransformer(func=os.system).fit(X)
    with pytest.raises((UnsafeArtifactError, InvalidInputError)):
        reg.register_model("evil", evil, X=X, ws=ws)
    assert reg.list_models(ws=ws) == []


def test_a_failed_commit_leaves_its_blobs_to_the_collector(ws: Workspace, clf, monkeypatch
                                                           ) -> None:  # type: ignore
    """Another writer may have found them stored meanwhile: they go once no record names
    them and their grace period has passed (here none), not at once."""
    from modelport.lifecycle.gc import collect_garbage

    model, X = clf

    def broken_create(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    def blobs() -> list[Path]:
        return [b for b in (ws.settings.home / "artifacts").rglob("*") if b.is_file()]

    # the store's write fails, however the store writes a version
    monkeypatch.setattr(type(ws.store.registry), "create_version", broken_create)
    with pytest.raises(RuntimeError):
        reg.register_model("iris", model, X=X, ws=ws)
    stored = blobs()
    assert len(stored) == 3  # the model's bytes, its sample, its profile
    assert sorted(collect_garbage(0, ws=ws).deleted) == sorted(
        p.parent.name + p.name for p in stored)
    assert blobs() == []


def test_register_refuses_unknown_objects(ws: Workspace, iris) -> None:  # type: ignore
    with pytest.raises(InvalidInputError, match=r"cannot store a builtins\.dict"):
        reg.register_model("x", {"not": "a model"}, X=iris.frame, ws=ws)
    with pytest.raises(InvalidInputError, match="invalid model name"):
        reg.register_model("bad name", object(), X=iris.frame, ws=ws)


def test_two_processes_get_distinct_versions(settings, clf) -> None:  # type: ignore
    """Concurrent registrations never share or lose a version number."""
    from modelport.core.formats import format_for
    from modelport.core.signature import Signature
    from modelport.core.workspace import Workspace

    model, X = clf
    Workspace.open(settings)  # migrate first, so the race is on registration alone
    data = format_for(model).dump(model)
    signature = Signature.infer(X, classes=model.classes_).to_dict()
    per_process, start_at = 15, time.time() + 1.5
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.starmap(register_many, [
            (settings.db_url, str(settings.home), "race", per_process, start_at, data, signature)
        ] * 2)
    numbers = sorted(results[0] + results[1])
    assert numbers == list(range(1, 2 * per_process + 1))
    ws = Workspace.open(settings)
    assert [v.version for v in reg.list_versions("race", ws=ws)] == numbers[::-1]


def test_export_onnx_records_parity(ws: Workspace, clf) -> None:  # type: ignore
    model, X = clf
    reg.register_model("iris", model, X=X, ws=ws)
    with pytest.raises(NotFoundError, match="export-onnx"):
        loading.load("iris", runtime="onnx", ws=ws)
    v = loading.export_onnx("iris", ws=ws)
    assert v.onnx_ready and v.onnx is not None
    assert v.onnx["max_abs_diff"] < 1e-4 and v.onnx["labels_agree"] == 1.0
    assert v.onnx["rows"] == 5 + len(X)
    fast = loading.load("iris", runtime="onnx", ws=ws)
    assert fast.runtime == "onnx" and loading.load("iris", runtime="auto", ws=ws).runtime == "onnx"
    np.testing.assert_array_equal(fast.predict(X), model.predict(X))
    with pytest.raises(InvalidInputError, match="unknown runtime"):
        loading.load("iris", runtime="gpu", ws=ws)
