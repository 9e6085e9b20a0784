from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError, SchemaError
from modelport.lifecycle.datasets import load_dataset
from modelport.lifecycle.estimators import THREADS_ABOVE, build, final_step
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import get_version, register_run
from modelport.lifecycle.search import get_run
from modelport.lifecycle.train import detect_task, parse_params, train


def test_train_classifier_records_run_and_registers(ws: Workspace) -> None:
    result = train("sklearn:iris", "target", "random_forest", {"n_estimators": 20}, "iris",
                   ws=ws)
    assert result.task == "classification"
    assert result.estimator == "sklearn.RandomForestClassifier"
    assert {"cv_accuracy_mean", "cv_accuracy_std", "cv_f1_macro_mean", "test_accuracy",
            "test_f1_macro"} <= result.metrics.keys()
    assert 0.8 < result.metrics["test_accuracy"] <= 1.0
    run = get_run(result.run_id, ws=ws)
    assert run.params["n_estimators"] == "20" and run.params["cv"] == "5"
    assert run.tags["task"] == "classification" and run.status == "FINISHED"
    assert run.dataset_digest == load_dataset("sklearn:iris").digest
    assert {"model/model", "model/meta.json", "model/sample.npy"} <= run.artifacts.keys()
    v = result.version
    assert v is not None and v.ref == "iris:1" and v.run_id == run.id
    assert v.dataset_digest == run.dataset_digest
    assert v.metrics["test_accuracy"] == result.metrics["test_accuracy"]
    frame = load_dataset("sklearn:iris").frame
    accuracy = (load("iris", ws=ws).predict(frame) == frame["target"]).mean()
    assert accuracy > 0.9


@pytest.mark.storage_independent
def test_train_regression_binary_auc_and_cv_history(ws: Workspace) -> None:
    from modelport.lifecycle.tracking import metric_history

    reg = train("sklearn:diabetes", "target", "ridge", ws=ws)
    assert reg.task == "regression" and reg.version is None
    assert {"test_r2", "test_rmse", "test_mae", "cv_rmse_mean"} <= reg.metrics.keys()
    assert reg.metrics["test_rmse"] > 0  # errors are reported as positive numbers
    assert len(metric_history(reg.run_id, "cv_r2", ws=ws)) == 5
    binary = train("sklearn:breast_cancer", "target", "logistic_regression", ws=ws)
    assert binary.metrics["test_roc_auc"] > 0.95
    assert get_run(binary.run_id, ws=ws).params["scaled"] == "True"


@pytest.mark.parametrize("estimator", ["lightgbm", "xgboost"])
def test_small_fits_take_one_thread_unless_asked(estimator: str) -> None:
    """OpenMP threads on a few hundred rows spin on a busy machine (100x slower)."""
    def threads(params: dict, rows: int | None) -> object:
        return final_step(build(estimator, "classification", params, rows=rows)).n_jobs

    library_default = threads({}, None)
    assert library_default != 1
    assert threads({}, 500) == 1
    assert threads({"n_jobs": 2}, 500) == 2  # the caller's choice stands
    assert threads({}, THREADS_ABOVE) == library_default


@pytest.mark.storage_independent
@pytest.mark.parametrize("estimator", ["lightgbm", "xgboost"])
def test_boosters_train_in_native_format(ws: Workspace, estimator: str) -> None:
    result = train("sklearn:wine", "target", estimator, {"n_estimators": 20}, "wine", ws=ws)
    assert result.version is not None and result.version.format == estimator
    frame = load_dataset("sklearn:wine").frame
    assert load("wine", ws=ws).runtime == "onnx"  # the default: its parity-checked ONNX copy
    predictor = load("wine", runtime="native", ws=ws)  # the booster itself
    assert predictor.runtime == estimator
    assert (predictor.predict(frame) == frame["target"]).mean() > 0.9
    proba = predictor.predict_proba(frame.head(4))
    assert proba.shape == (4, 3) and np.allclose(proba.sum(axis=1), 1.0)


def test_import_path_and_register_from_run(ws: Workspace) -> None:
    result = train("sklearn:iris", "target", "sklearn.tree.DecisionTreeClassifier",
                   {"max_depth": 3}, ws=ws)
    v = register_run("tree", result.run_id, description="from a run", ws=ws)
    assert v.ref == "tree:1" and v.description == "from a run" and v.run_id == result.run_id
    assert get_version("tree", ws=ws).signature.classes == [0, 1, 2]


@pytest.mark.storage_independent
def test_csv_and_parquet_data(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    frame = load_dataset("sklearn:iris").frame
    frame.to_csv(tmp_path / "iris.csv", index=False)
    frame.to_parquet(tmp_path / "iris.parquet")
    a = train(str(tmp_path / "iris.csv"), "target", "knn", ws=ws)
    b = train(str(tmp_path / "iris.parquet"), "target", "knn", ws=ws)
    assert get_run(a.run_id, ws=ws).dataset_digest == get_run(b.run_id, ws=ws).dataset_digest


@pytest.mark.storage_independent
def test_string_labels(ws: Workspace) -> None:
    frame = load_dataset("sklearn:iris").frame
    frame["target"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    from modelport.lifecycle.datasets import Dataset, digest_frame

    result = train(Dataset("flowers", frame, digest_frame(frame)), "target", "naive_bayes",
                   name="flowers", ws=ws)
    assert result.task == "classification"
    predicted = load("flowers", ws=ws).predict(frame)
    assert set(predicted) == {"setosa", "versicolor", "virginica"}
    assert (predicted == frame["target"]).mean() > 0.9


@pytest.mark.storage_independent
@pytest.mark.parametrize("kwargs, error, message", [
    ({"data": "sklearn:nope"}, NotFoundError, "unknown bundled dataset"),
    ({"data": "missing.csv"}, NotFoundError, "not found"),
    ({"target": "label"}, InvalidInputError, "target column 'label' not in the dataset"),
    ({"model": "magic_forest"}, InvalidInputError, "unknown estimator 'magic_forest'"),
    ({"model": "os.system"}, InvalidInputError, "not from scikit-learn"),
    ({"model": "sklearn.nothing.Here"}, InvalidInputError, "no module"),
    ({"params": {"n_estimators": -3}}, InvalidInputError, "could not be trained"),
    ({"params": {"colour": "red"}}, InvalidInputError, "unknown parameter 'colour'"),
    ({"model": "linear_regression"}, InvalidInputError, "does only regression"),
    ({"test_size": 1.5}, InvalidInputError, "test_size"),
])
def test_bad_training_input_is_a_clear_error_and_registers_nothing(
        ws: Workspace, kwargs: dict, error: type, message: str) -> None:
    args = {"data": "sklearn:iris", "target": "target", "model": "random_forest",
            "params": None, "name": "m", **kwargs}
    test_size = args.pop("test_size", 0.2)
    with pytest.raises(error, match=message):
        train(args["data"], args["target"], args["model"], args["params"], args["name"],
              test_size=test_size, ws=ws)
    with pytest.raises(NotFoundError):
        get_version("m", ws=ws)


@pytest.mark.storage_independent
def test_bad_data_files(ws: Workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "model.bin").write_bytes(b"\x00")
    pd.DataFrame({"x": [1, 2, 3, 4], "y": [1, 1, 1, 1]}).to_csv(tmp_path / "one.csv", index=False)
    ids = [f"user-{i}" for i in range(1200)]  # an identifier, not a category
    pd.DataFrame({"x": ids, "y": [0, 1] * 600}).to_csv(tmp_path / "ids.csv", index=False)
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "gone": [None] * 4, "y": [0, 1, 0, 1]}).to_csv(
        tmp_path / "gone.csv", index=False)
    pd.DataFrame({"x": ["a", "b", "c", "d"], "y": [0, 1, 0, 1]}).to_csv(tmp_path / "tiny.csv",
                                                                        index=False)
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, None, 1]}).to_csv(tmp_path / "na.csv",
                                                                   index=False)
    cases = [("empty.csv", InvalidInputError, "empty"),
             ("model.bin", InvalidInputError, "unsupported file type"),
             ("one.csv", InvalidInputError, "single class"),
             ("ids.csv", SchemaError, "column 'x' has 1,200 distinct values — more than 1,000"),
             ("gone.csv", SchemaError, "column 'gone' has no values"),
             ("tiny.csv", InvalidInputError, "cannot hold out 0.2 of 4 rows"),
             ("na.csv", InvalidInputError, "missing values")]
    for name, error, message in cases:
        with pytest.raises(error, match=message):
            train(str(tmp_path / name), "y", "random_forest", ws=ws)


@pytest.mark.parametrize("items, expected", [
    (["a=1", "b=0.5", "c=true", "d=None", "e=gini", "f=[1, 2]"],
     {"a": 1, "b": 0.5, "c": True, "d": None, "e": "gini", "f": [1, 2]}),
    (["max_depth = 5"], {"max_depth": 5}),
])
def test_parse_params(items: list[str], expected: dict) -> None:
    assert parse_params(items) == expected


@pytest.mark.parametrize("bad", ["novalue", "=3"])
def test_parse_params_rejects(bad: str) -> None:
    with pytest.raises(InvalidInputError, match="key=value"):
        parse_params([bad])


@pytest.mark.parametrize("values, task", [
    ([0, 1, 0, 1], "classification"), (["a", "b"], "classification"),
    ([True, False], "classification"), ([0.5, 1.7, 2.2], "regression"),
    ([1.0, 2.0, 1.0], "classification"), (list(range(100)), "regression"),
])
def test_detect_task(values: list, task: str) -> None:
    assert detect_task(pd.Series(values)) == task
