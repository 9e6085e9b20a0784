"""The training profile recorded with every registered version (monitoring's baseline)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from frames import mixed_frame
from modelport.core.signature import ColumnSpec, Signature
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle import profile
from modelport.lifecycle.registry import get_version, register_model
from modelport.lifecycle.train import train


def stored_profile(ws: Workspace, ref: str) -> dict:  # type: ignore[type-arg]
    return profile.decode(ws.artifacts.get(get_version(ref, ws=ws).profile_digest or ""))


def test_train_records_a_profile_of_the_training_rows(ws: Workspace) -> None:
    frame = mixed_frame()
    result = train(frame, "target", "logistic_regression", name="cancer", ws=ws)
    p = stored_profile(ws, "cancer:1")
    assert p["source"] == "training"
    assert 0.6 * len(frame) < p["rows"] < len(frame)  # the training split
    grade = p["features"]["grade"]
    assert grade["kind"] == "categorical" and grade["categories"] == ["a", "b", "c"]
    assert sum(grade["shares"]) + grade["unseen"] == pytest.approx(1.0)
    assert 0.02 < grade["missing"] < 0.1  # the frame's 5 % holes
    radius = p["features"]["mean radius"]
    assert radius["kind"] == "numeric" and len(radius["cuts"]) == profile.BINS - 1
    assert sum(radius["shares"]) == pytest.approx(1.0)
    assert all(abs(s - 0.1) < 0.03 for s in radius["shares"])  # quantile bins: ~equal shares
    column = frame["mean radius"].dropna()
    assert column.min() <= radius["min"] < radius["max"] <= column.max()
    prediction = p["prediction"]
    assert prediction["kind"] == "categorical" and prediction["categories"] == ["0", "1"]
    assert sum(prediction["shares"]) == pytest.approx(1.0) and prediction["unseen"] == 0
    assert result.version is not None and result.version.profile_digest


def test_register_model_records_one_too(ws: Workspace, iris) -> None:  # type: ignore[no-untyped-def]
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    model = LogisticRegression(max_iter=500).fit(X, y.map({0: "a", 1: "b", 2: "c"}))
    register_model("flowers", model, X=X, ws=ws)
    p = stored_profile(ws, "flowers")
    assert p["rows"] == 150
    assert p["prediction"]["categories"] == ["a", "b", "c"]
    assert p["prediction"]["shares"] == pytest.approx([1 / 3] * 3, abs=0.05)


def test_discrete_and_missing_columns() -> None:
    signature = Signature([ColumnSpec("flag", "int64"), ColumnSpec("empty", "float64"),
                           ColumnSpec("city", "string", ["x", "y"])])
    rng = np.random.default_rng(1)
    matrix = np.column_stack([rng.random(1000) < 0.3, np.full(1000, np.nan),
                              rng.choice([0.0, 1.0, -1.0, np.nan], 1000, p=[.5, .3, .1, .1])])
    p = profile.build(signature, matrix, None)
    flag = p["features"]["flag"]
    assert flag["cuts"] == [0.0, 1.0]  # one bin per value (plus the empty one below)
    assert flag["shares"][0] == 0 and flag["shares"][2] == pytest.approx(0.3, abs=0.05)
    assert p["features"]["empty"]["missing"] == 1.0
    city = p["features"]["city"]
    assert city["unseen"] == pytest.approx(0.1 / 0.9, abs=0.03)
    assert city["missing"] == pytest.approx(0.1, abs=0.03)
    assert json.loads(profile.encode(p)) == p


def test_a_damaged_profile_is_refused_with_one_line() -> None:
    for data in (b"not json", b"[]", json.dumps({"profile": 99, "features": {}}).encode()):
        with pytest.raises(InvalidInputError, match="not one this modelport can read"):
            profile.decode(data)
