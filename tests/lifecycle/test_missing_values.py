"""Predict-time missing values (issue 15, items 15 and 21).

Every model ``train`` registers answers a row with a missing value in any column, even
when training had none — natively and from its ONNX copy, which must still pass parity.
A model that cannot take one (a bare estimator registered by hand) has a signature that
says so, and the row is refused naming the column instead of being answered wrongly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import SchemaError
from modelport.lifecycle.datasets import load_dataset
from modelport.lifecycle.loading import export_onnx, load
from modelport.lifecycle.registry import register_model
from modelport.lifecycle.train import train

pytestmark = pytest.mark.storage_independent


def holes(frame: pd.DataFrame) -> pd.DataFrame:
    """A few rows of ``frame``, each lacking a different feature."""
    rows = frame.head(len(frame.columns)).copy()
    for i, column in enumerate(frame.columns):
        rows.loc[rows.index[i], column] = np.nan
    return rows


@pytest.mark.parametrize(("estimator", "data"), [
    ("logistic_regression", "sklearn:iris"), ("knn", "sklearn:iris"),
    ("svm", "sklearn:iris"), ("ridge", "sklearn:diabetes"),
    ("random_forest", "sklearn:iris"), ("gradient_boosting", "sklearn:diabetes")])
def test_every_trained_model_takes_missing_values_it_never_saw(
        ws: Workspace, estimator: str, data: str) -> None:
    frame = load_dataset(data).frame
    assert not frame.isna().any().any()  # training had no missing value
    version = train(data, "target", estimator, name="m", cv=2, ws=ws).version
    assert version is not None and version.signature.takes_missing is True
    rows = holes(frame.drop(columns="target"))
    native = load("m", ws=ws).predict(rows)
    assert len(native) == len(rows)
    if native.dtype.kind == "f":
        assert np.isfinite(native).all()
    exported = export_onnx("m", ws=ws)
    assert exported.onnx_ready, exported.onnx
    onnx = load("m", runtime="onnx", ws=ws).predict(rows)
    if native.dtype.kind == "f":
        np.testing.assert_allclose(onnx, native, rtol=1e-4, atol=1e-3)
    else:
        np.testing.assert_array_equal(onnx, native)


def test_a_model_that_cannot_take_missing_values_refuses_them_on_every_runtime(
        ws: Workspace) -> None:
    from sklearn.linear_model import LogisticRegression

    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    version = register_model("bare", LogisticRegression(max_iter=500).fit(X, y), X=X, ws=ws)
    assert version.signature.takes_missing is False
    export_onnx("bare", ws=ws)
    row = X.head(1).copy()
    row.iloc[0, 2] = np.nan
    for runtime in ("native", "onnx"):
        predictor = load("bare", runtime=runtime, ws=ws)
        with pytest.raises(SchemaError, match="column 'petal length \\(cm\\)' has a missing"):
            predictor.predict(row)
        with pytest.raises(SchemaError, match="infinite"):
            predictor.predict([[1.0, 2.0, 3.0, float("inf")]])
        assert len(predictor.predict(X.head(2))) == 2
