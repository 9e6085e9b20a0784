"""A batch job logs a sample of its scored rows for `modelport monitor`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _batchdata import FEATURES, frame

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import logs_root, read_window
from modelport.runtimes.batch import predict_job


@pytest.mark.parametrize("workers", [1, 2])
def test_a_job_logs_its_sampled_rows(ws: Workspace, model, tmp_path: Path,  # type: ignore
                                     workers: int) -> None:
    df = frame(4000, seed=3)
    df.to_csv(tmp_path / "in.csv", index=False)
    report = predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"),
                         batch_size=500, workers=workers, log_sample=1.0, ws=ws)
    window = read_window(logs_root(ws), "clf", 1, 0)
    assert window.rows == report.rows == 4000
    ids = set(window.table.column("request_id").to_pylist())
    assert len(ids) == report.parts and all(i.startswith(report.job.id) for i in ids)
    logged = window.table.sort_by("in.a")
    np.testing.assert_allclose(logged.column("in.a").to_numpy(), np.sort(df["a"].to_numpy()))
    [drift] = monitor("clf", since_s=3600, ws=ws)  # drawn as the training rows were
    assert drift["status"] == "ok" and set(FEATURES) == set(drift["features"])


def test_a_share_of_rows_and_a_bad_share(ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore
    frame(4000, seed=4).to_csv(tmp_path / "in.csv", index=False)
    predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), batch_size=500,
                workers=1, log_sample=0.25, ws=ws)
    assert 800 < read_window(logs_root(ws), "clf", 1, 0).rows < 1200  # 1000 ± 27 sd
    with pytest.raises(InvalidInputError, match="between 0 and 1"):
        predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out2"), log_sample=-1,
                    ws=ws)
