"""The Ray backend: the same job through Ray Data on a local Ray instance this test starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _batchdata import expected, frame, write_parquet

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.runtimes.batch import predict_job

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
# Ray's own modules raise deprecation warnings on import and shutdown: not ours to fix
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
              pytest.mark.filterwarnings("ignore::ResourceWarning")]


@pytest.fixture(scope="module")
def local_ray():  # type: ignore[no-untyped-def]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ray_backend_matches_local_and_quarantines(
        ws: Workspace, model, tmp_path: Path, local_ray) -> None:  # type: ignore[no-untyped-def]
    df = frame(6000)
    write_parquet(df.iloc[:4000], tmp_path / "in-1.parquet", row_group_size=1000)
    bad = df.iloc[4000:].astype({"c": object})
    bad.loc[4500, "c"] = "unknown"
    bad.to_csv(tmp_path / "in-2.csv", index=False)
    report = predict_job("clf", str(tmp_path / "in-*"), str(tmp_path / "out"), keep=["id"],
                         batch_size=700, workers=2, backend="ray", on_error="quarantine", ws=ws)
    assert (report.rows, report.failed) == (5999, 1)
    result = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert result.id.tolist() == [i for i in range(6000) if i != 4500]
    np.testing.assert_array_equal(result.prediction, expected(model, df[df.id != 4500]))
    rejected = pd.read_parquet(tmp_path / "out" / "_quarantine")
    assert rejected._reason.tolist() == ["column 'c' expects a number, got 'unknown'"]
    assert report.job.options["backend"] == "ray"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_ray_errors_arrive_as_one_line(ws: Workspace, model, tmp_path: Path,
                                       local_ray) -> None:  # type: ignore[no-untyped-def]
    df = frame(100).astype({"a": object})
    df.loc[42, "a"] = "x"
    df.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InvalidInputError, match="row 43: column 'a' expects a number"):
        predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), backend="ray",
                    ws=ws)
    assert not (tmp_path / "out").exists()
