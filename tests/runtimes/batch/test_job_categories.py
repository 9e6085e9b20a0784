"""Batch prediction of a model with text (category) columns, from Parquet and CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frames import mixed_frame
from modelport.core.workspace import Workspace
from modelport.lifecycle.loading import load
from modelport.lifecycle.train import train
from modelport.runtimes.batch import predict_job


@pytest.mark.parametrize("workers", [1, 2])
def test_text_columns_from_parquet_and_csv(ws: Workspace, tmp_path: Path, workers: int) -> None:
    frame = mixed_frame()
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    train(str(data), "target", "logistic_regression", name="mixed", ws=ws)

    rows = frame.drop(columns="target").assign(id=range(len(frame)))
    rows.loc[0, "grade"] = "never-seen"  # an unseen category still gets a prediction
    inputs = tmp_path / "in"
    inputs.mkdir()
    parquet = rows.iloc[:300].astype({"site": "category"})  # a dictionary-encoded column
    parquet.to_parquet(inputs / "a.parquet", index=False)
    rows.iloc[300:].to_csv(inputs / "b.csv", index=False)
    out = tmp_path / "scores"
    report = predict_job("mixed", str(inputs / "*"), str(out), keep=["id"], batch_size=128,
                         workers=workers, ws=ws)
    assert (report.rows, report.failed) == (len(frame), 0)
    result = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    predictor = load("mixed", ws=ws)
    features = rows.drop(columns="id")
    np.testing.assert_array_equal(result.prediction, predictor.predict(features))
    np.testing.assert_allclose(result.proba_1, predictor.predict_proba(features)[:, 1],
                               atol=1e-12)
    assert (result.prediction == frame["target"]).mean() > 0.9
