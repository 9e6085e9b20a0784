"""Linear ONNX graphs answer a few rows without onnxruntime — with onnxruntime's answers.

Each linear estimator modelport trains (behind the scaler ``build`` adds) is
converted as ``export_onnx`` does; where its graph is one linear map the
evaluator must be chosen and give, for 1 to 4 rows, the labels onnxruntime and
the original model give and onnxruntime's probabilities or values; every other
graph must keep onnxruntime.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import datasets

from modelport.core.formats import get_format, linear
from modelport.core.formats.onnx import OnnxPredictor, convert
from modelport.core.signature import Signature
from modelport.lifecycle.estimators import build

LOADERS = {"binary": datasets.load_breast_cancer, "multiclass": datasets.load_iris,
           "regression": datasets.load_diabetes}

CASES = [  # estimator, task, data set, whether its graph is one linear map
    ("logistic_regression", "classification", "binary", True),  # Scaler → LinearClassifier
    ("logistic_regression", "classification", "multiclass", True),  # … → Normalizer L1
    ("linear_regression", "regression", "regression", True),
    ("ridge", "regression", "regression", True),
    ("lasso", "regression", "regression", True),
    ("ridge", "classification", "multiclass", False),  # decision scores, no probabilities
    ("sgd", "classification", "multiclass", False),  # MatMul, Add, ArgMax …
    ("decision_tree", "classification", "multiclass", False),
]


def exported(name: str, task: str, data: str
             ) -> tuple[Any, OnnxPredictor, np.ndarray, Any]:
    bunch = LOADERS[data](as_frame=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence on unscaled data is not the point
        model = build(name, task, {}).fit(bunch.data, bunch.target)
    classes = getattr(model, "classes_", None) if task == "classification" else None
    signature = Signature.infer(bunch.data, classes=classes)
    predictor = get_format("onnx").load(convert("sklearn", model, signature), signature)
    assert isinstance(predictor, OnnxPredictor)
    return model, predictor, signature.to_matrix(bunch.data, np.float32), bunch.data


@pytest.mark.parametrize(("name", "task", "data", "is_linear"), CASES)
def test_a_few_rows_of_a_linear_graph_skip_onnxruntime_and_agree(
        name: str, task: str, data: str, is_linear: bool) -> None:
    model, predictor, x, frame = exported(name, task, data)
    assert (predictor._small is not None) == is_linear
    plain = OnnxPredictor(predictor.session, predictor.signature)  # onnxruntime only
    assert plain._small is None
    for start, stop in ((0, 1), (7, 9), (20, 24), (0, 50)):  # 50 rows: over the budget
        rows = x[start:stop]
        got, want = predictor.outputs_of_matrix(rows), plain.outputs_of_matrix(rows)
        assert set(got) == set(want)
        if task == "classification":
            np.testing.assert_array_equal(got["prediction"], want["prediction"])
            np.testing.assert_array_equal(got["prediction"],
                                          model.predict(frame.iloc[start:stop]))
        else:
            np.testing.assert_allclose(got["prediction"], want["prediction"], rtol=1e-5)
        if "probabilities" in want:
            assert got["probabilities"].dtype == np.float64
            np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)


def test_an_evaluator_that_disagrees_with_onnxruntime_is_not_used(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(linear.TRANSFORMS, "LOGISTIC", lambda scores: scores)
    _, predictor, x, _ = exported("logistic_regression", "classification", "binary")
    assert predictor._small is None  # checked at load against onnxruntime: refused
    assert predictor.outputs_of_matrix(x[:1])["probabilities"].sum() == pytest.approx(1.0)


def test_calls_over_the_budget_stay_on_onnxruntime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python pays per multiplication: rows × features × outputs decide, not the model."""
    _, predictor, _, _ = exported("logistic_regression", "classification", "multiclass")
    assert predictor._small is not None and predictor._small.max_rows == 128 // (4 * 3)
    monkeypatch.setattr(linear, "BUDGET", 29)  # breast_cancer: 30 features × 1 score
    _, predictor, _, _ = exported("logistic_regression", "classification", "binary")
    assert predictor._small is None


def test_a_binary_logistic_regression_costs_one_dot_product() -> None:
    """skl2onnx writes σ(s) and σ(-s) as two outputs; the evaluator computes s once, and
    both probabilities stay exact far into the tails (no 1 - p rounding to zero)."""
    model, predictor, x, frame = exported("logistic_regression", "classification", "binary")
    assert predictor._small is not None and len(predictor._small.outputs) == 1
    assert predictor._small.max_rows == 128 // 30
    w, b = predictor._small.outputs[0]
    k = 100 / abs(sum(wj * xj for wj, xj in zip(w, x[0].tolist(), strict=True)))
    far = np.vstack([x[:1] * k, x[:1] * -k]).astype(np.float32)  # |s| near 100
    for row, (p0, p1) in zip(far.tolist(), predictor._small.rows(far), strict=True):
        s = sum(wj * xj for wj, xj in zip(w, row, strict=True)) + b
        assert abs(s) > 50 and p0 + p1 == pytest.approx(1.0)
        assert min(p0, p1) == pytest.approx(np.exp(-abs(s)) / (1 + np.exp(-abs(s))), rel=1e-9)
        assert min(p0, p1) > 0.0
    got = predictor.outputs_of_matrix(x[:4])
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(frame.iloc[:4]),
                               atol=1e-5)


@pytest.mark.parametrize(("name", "task", "data"), [
    ("logistic_regression", "classification", "binary"),
    ("logistic_regression", "classification", "multiclass"),
    ("ridge", "regression", "regression")])
def test_the_imputer_of_a_trained_linear_model_stays_on_the_evaluator(
        name: str, task: str, data: str) -> None:
    """Every trained model imputes (a missing value at prediction time gets an answer):
    the graph is Imputer → Scaler → Linear…, still one linear map, and a row with a NaN
    gets onnxruntime's and the original model's answer from the evaluator."""
    model, predictor, x, frame = exported(name, task, data)
    assert predictor._small is not None and predictor._small.fill is not None
    plain = OnnxPredictor(predictor.session, predictor.signature)
    rows = x[:3].copy()
    rows[0, 0] = rows[1, 2] = rows[2, :] = np.nan
    got, want = predictor.outputs_of_matrix(rows), plain.outputs_of_matrix(rows)
    native = frame.iloc[:3].copy()
    native.iloc[0, 0] = native.iloc[1, 2] = np.nan
    native.iloc[2, :] = np.nan
    if task == "classification":
        np.testing.assert_array_equal(got["prediction"], want["prediction"])
        np.testing.assert_array_equal(got["prediction"], model.predict(native))
        np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)
    else:
        np.testing.assert_allclose(got["prediction"], want["prediction"], rtol=1e-5)
        np.testing.assert_allclose(got["prediction"], model.predict(native), rtol=1e-4)
