"""Batch prediction jobs end to end: files in, part files out, recorded in the jobs table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from _batchdata import FEATURES, expected, frame, write_parquet

from modelport.core.workspace import Workspace
from modelport.errors import ConflictError, InvalidInputError, NotFoundError, SchemaError
from modelport.runtimes.batch import get_job, list_jobs, predict_job


def read_output(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("id").reset_index(drop=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_glob_of_parquet_and_csv_predicts_every_row_once(
        ws: Workspace, model, tmp_path: Path, workers: int) -> None:  # type: ignore[no-untyped-def]
    df = frame(5000)
    write_parquet(df.iloc[:3000], tmp_path / "in-1.parquet", row_group_size=700)
    df.iloc[3000:].to_csv(tmp_path / "in-2.csv", index=False)
    out = tmp_path / "scores"
    report = predict_job("clf", str(tmp_path / "in-*"), str(out), keep=["id"], batch_size=512,
                         workers=workers, ws=ws)
    assert (report.rows, report.failed, report.resumed) == (5000, 0, False)
    result = read_output(out)
    assert list(result.columns) == ["id", "prediction", "proba_0", "proba_1"]
    assert result.id.tolist() == list(range(5000))
    np.testing.assert_array_equal(result.prediction, expected(model, df))
    np.testing.assert_allclose(result.proba_1, model.predict_proba(df[FEATURES].to_numpy())[:, 1])
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == report.parts and all(pq.read_metadata(p).num_rows <= 512 for p in parts)
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["rows"] == 5000 and manifest["model"] == "clf:1"
    assert not list(tmp_path.glob(".scores*")), "the staging directory is renamed away"

    job = get_job(report.job.id[:10], ws=ws)
    assert (job.status, job.kind, job.model, job.version) == ("succeeded", "predict", "clf", 1)
    assert job.rows == 5000 and job.rows_failed == 0 and job.parts == report.parts
    assert job.input_digest and len(job.input_digest) == 64 and job.duration is not None
    assert [j.id for j in list_jobs(ws=ws)] == [job.id]


def test_csv_output_without_probabilities(ws: Workspace, model, tmp_path: Path
                                          ) -> None:  # type: ignore[no-untyped-def]
    df = frame(1200)
    write_parquet(df, tmp_path / "in.parquet")
    out = tmp_path / "out"
    predict_job("clf:1", str(tmp_path / "in.parquet"), str(out), format="csv", proba=False,
                keep=["id", "a"], batch_size=500, ws=ws)
    parts = sorted(out.glob("part-*.csv"))
    assert len(parts) == 3
    result = pd.concat([pd.read_csv(p) for p in parts]).sort_values("id")
    assert list(result.columns) == ["id", "a", "prediction"]
    np.testing.assert_array_equal(result.prediction, expected(model, df))


def test_existing_output_is_kept_unless_overwrite(ws: Workspace, model, tmp_path: Path
                                                  ) -> None:  # type: ignore[no-untyped-def]
    write_parquet(frame(100), tmp_path / "in.parquet")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(InvalidInputError, match="already exists — choose another path or pass"):
        predict_job("clf", str(tmp_path / "in.parquet"), str(out), ws=ws)
    predict_job("clf", str(tmp_path / "in.parquet"), str(out), overwrite=True, ws=ws)
    assert not (out / "old.txt").exists() and len(pd.read_parquet(out)) == 100
    assert not list(tmp_path.glob(".out.old-*"))


def test_bad_value_fails_the_job_with_its_row_and_publishes_nothing(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(300).astype({"b": object})
    df.loc[157, "b"] = "oops"
    df.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out"
    with pytest.raises(InvalidInputError,
                       match=r"in\.csv row 158: column 'b' expects a number, got 'oops' — rerun "
                             r"with --on-error skip or quarantine"):
        predict_job("clf", str(tmp_path / "in.csv"), str(out), batch_size=100, ws=ws)
    assert not out.exists()
    [job] = list_jobs(ws=ws)
    assert job.status == "failed" and "row 158" in (job.error or "") and job.rows == 100


@pytest.mark.parametrize(("value", "what"), [(np.nan, "a missing value"),
                                             (np.inf, "an infinite value")])
def test_a_missing_or_infinite_value_fails_the_job_with_one_clear_line(
        ws: Workspace, model, tmp_path: Path, value: float, what: str
        ) -> None:  # type: ignore[no-untyped-def]
    """The model (a bare LogisticRegression) cannot take a missing value: a job that
    does not set bad rows aside stops at the first, naming its row and column."""
    df = frame(300)
    df.loc[157, "c"] = value
    df.to_parquet(tmp_path / "in.parquet", index=False)
    with pytest.raises(InvalidInputError, match=rf"in\.parquet row 158: column 'c' has {what}"):
        predict_job("clf", str(tmp_path / "in.parquet"), str(tmp_path / "out"), batch_size=100,
                    ws=ws)
    report = predict_job("clf", str(tmp_path / "in.parquet"), str(tmp_path / "q"),
                         on_error="quarantine", batch_size=100, ws=ws)
    assert (report.rows, report.failed) == (299, 1)
    [reason] = pd.read_parquet(tmp_path / "q" / "_quarantine")._reason
    assert reason.startswith(f"column 'c' has {what}")


def test_quarantine_sets_bad_rows_aside_with_reasons(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(400)
    lines = df.to_csv(index=False).splitlines()
    lines[11] = lines[11].replace(",", ",abc,", 1).rsplit(",", 1)[0]  # id 10: 'abc' in column a
    lines[21] = lines[21] + ",999"  # id 20: a field too many
    cells = lines[31].split(",")
    lines[31] = ",".join([*cells[:3], "", cells[4]])  # id 30: missing c
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    report = predict_job("clf", str(tmp_path / "in.csv"), str(out), keep=["id"],
                         on_error="quarantine", batch_size=128, ws=ws)
    assert (report.rows, report.failed) == (397, 3)
    assert report.quarantine == str(out / "_quarantine")
    result = read_output(out)
    assert set(range(400)) - set(result.id) == {10, 20, 30}
    good = df[~df.id.isin([10, 20, 30])]
    np.testing.assert_array_equal(result.prediction, expected(model, good))
    rejected = pd.read_parquet(out / "_quarantine").sort_values("_reason")
    reasons = dict(zip(rejected._reason, rejected._row, strict=True))
    assert reasons["column 'a' expects a number, got 'abc'"] == 11
    # rows are numbered as parsed: the malformed line before it is not counted
    assert reasons["column 'c' has a missing value (null or NaN) — this model cannot take "
                   "missing values: fill it before sending"] == 30
    malformed = rejected[rejected._reason.str.startswith("malformed line")]
    assert malformed._line.iloc[0].startswith("20,") and "6 fields" in malformed._reason.iloc[0]
    assert get_job(report.job.id, ws=ws).rows_failed == 3


def test_skip_counts_bad_rows_without_writing_them(ws: Workspace, model, tmp_path: Path
                                                   ) -> None:  # type: ignore[no-untyped-def]
    df = frame(200)
    df.loc[[5, 150], "d"] = np.nan
    write_parquet(df, tmp_path / "in.parquet")
    report = predict_job("clf", str(tmp_path / "in.parquet"), str(tmp_path / "out"),
                         keep=["id"], on_error="skip", ws=ws)
    assert (report.rows, report.failed, report.quarantine) == (198, 2, None)
    assert not (tmp_path / "out" / "_quarantine").exists()
    assert set(read_output(tmp_path / "out").id) == set(range(200)) - {5, 150}


def test_missing_column_wrong_dtype_and_unknown_keep_fail_before_any_work(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_parquet(frame(50).drop(columns=["c"]), tmp_path / "no_c.parquet")
    with pytest.raises(SchemaError, match=r"no_c\.parquet lacks column 'c' that clf:1 needs"):
        predict_job("clf", str(tmp_path / "no_c.parquet"), str(tmp_path / "o1"), ws=ws)
    write_parquet(frame(50), tmp_path / "ok.parquet")
    with pytest.raises(InvalidInputError, match="--keep column 'customer' is not in"):
        predict_job("clf", str(tmp_path / "ok.parquet"), str(tmp_path / "o2"),
                    keep=["customer"], ws=ws)
    dated = frame(50)
    dated["a"] = pd.date_range("2024-01-01", periods=50)
    write_parquet(dated, tmp_path / "dated.parquet")
    with pytest.raises(SchemaError, match=r"column 'a' in .*dated\.parquet holds timestamp\[.*\] "
                                          "values but clf:1 expects numeric values"):
        predict_job("clf", str(tmp_path / "dated.parquet"), str(tmp_path / "o3"),
                    on_error="skip", ws=ws)
    with pytest.raises(InvalidInputError, match="unknown --on-error policy 'ignore'"):
        predict_job("clf", str(tmp_path / "ok.parquet"), str(tmp_path / "o4"), on_error="ignore",
                    ws=ws)
    with pytest.raises(NotFoundError, match="matches no CSV or Parquet file"):
        predict_job("clf", str(tmp_path / "nothing-*.parquet"), str(tmp_path / "o5"), ws=ws)
    assert not any(tmp_path.glob("o[0-9]*")) and not any(tmp_path.glob(".o[0-9]*"))


def test_empty_files(ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a-empty.csv").write_text("")
    (tmp_path / "b-header.csv").write_text("id,a,b,c,d\n")
    with pytest.raises(InvalidInputError, match="has no rows — every file is empty"):
        predict_job("clf", str(tmp_path / "*.csv"), str(tmp_path / "out"), ws=ws)
    assert not (tmp_path / "out").exists()
    frame(10).to_csv(tmp_path / "c-rows.csv", index=False)
    report = predict_job("clf", str(tmp_path / "*.csv"), str(tmp_path / "out"), restart=True,
                         ws=ws)
    assert report.rows == 10 and report.empty_files == 1


def test_unfinished_job_with_other_settings_needs_restart(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(300).astype({"b": object})
    df.loc[250, "b"] = "x"
    df.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(InvalidInputError, match="row 251"):
        predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), batch_size=100,
                    ws=ws)
    with pytest.raises(ConflictError, match=r"other settings \(on_error\) .* pass --restart"):
        predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), batch_size=100,
                    on_error="skip", ws=ws)
    report = predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), batch_size=100,
                         on_error="skip", restart=True, ws=ws)
    assert (report.rows, report.failed, report.resumed) == (299, 1, False)


def test_failed_job_resumes_in_the_same_job_row(ws: Workspace, model, tmp_path: Path
                                               ) -> None:  # type: ignore[no-untyped-def]
    df = frame(1000)
    write_parquet(df.iloc[:600], tmp_path / "in-1.parquet", row_group_size=200)
    broken = df.iloc[600:].astype({"a": object})
    broken.loc[900, "a"] = "bad"
    broken.to_csv(tmp_path / "in-2.csv", index=False)
    args = ("clf", str(tmp_path / "in-*"), str(tmp_path / "out"))
    with pytest.raises(InvalidInputError, match="row 301"):
        predict_job(*args, keep=["id"], batch_size=200, workers=1, ws=ws)
    committed = sorted(p.name for p in (tmp_path / ".out.partial").glob("part-*"))
    assert len(committed) == 3 + 1  # the Parquet file's three chunks, the CSV's first
    broken.loc[900, "a"] = 0.5
    broken.to_csv(tmp_path / "in-2.csv", index=False)  # fixed in place: a changed input
    with pytest.raises(ConflictError, match="input_digest"):
        predict_job(*args, keep=["id"], batch_size=200, workers=1, ws=ws)
    (tmp_path / "in-2.csv").rename(tmp_path / "fixed.csv")
    broken.to_csv(tmp_path / "in-2.csv", index=False)
    report = predict_job(*args, keep=["id"], batch_size=200, workers=1, restart=True, ws=ws)
    assert report.rows == 1000 and read_output(tmp_path / "out").id.is_unique


def test_a_malformed_csv_line_names_the_way_out(ws: Workspace, model, tmp_path: Path
                                                ) -> None:  # type: ignore[no-untyped-def]
    lines = frame(50).to_csv(index=False).splitlines()
    lines[21] += ",1,2"  # two fields more than the header
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError,
                       match=r"cannot read CSV file .*in\.csv'?: CSV parse error: .* — rerun "
                             r"with --on-error skip or quarantine to set such rows aside$"):
        predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), ws=ws)
    report = predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"),
                         on_error="skip", ws=ws)
    assert (report.rows, report.failed) == (49, 1)
