"""A job killed with SIGKILL mid-way resumes from its last committed part: exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _batchdata import expected, frame, write_parquet

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.runtimes.batch import get_job, list_jobs

ROWS = 40_000  # 80 parts of 500: killed after 5, so 75 are left to the rerun


def _command(tmp_path: Path, workers: int) -> list[str]:
    return [sys.executable, "-m", "modelport", "batch", "predict", "clf",
            "--input", str(tmp_path / "in-*.parquet"), "--output", str(tmp_path / "out"),
            "--keep", "id", "--batch-size", "500", "--workers", str(workers), "--json"]


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "MODELPORT_HOME": str(settings.home),
            "MODELPORT_DB_URL": settings.db_url}


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_then_rerun_gives_every_row_exactly_once(
        ws: Workspace, settings: Settings, model, tmp_path: Path,
        workers: int) -> None:  # type: ignore[no-untyped-def]
    df = frame(ROWS)
    write_parquet(df.iloc[:ROWS // 2], tmp_path / "in-1.parquet", row_group_size=10_000)
    write_parquet(df.iloc[ROWS // 2:], tmp_path / "in-2.parquet", row_group_size=10_000)
    commits = tmp_path / ".out.partial" / "_commits"
    proc = subprocess.Popen(_command(tmp_path, workers), env=_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if commits.is_dir() and len(list(commits.glob("part-*.json"))) >= 5:
            break
        time.sleep(0.005)
    assert proc.poll() is None, f"the job ended before it could be killed: {proc.stderr.read()!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()  # type: ignore[union-attr]
    proc.stderr.close()  # type: ignore[union-attr]

    assert not (tmp_path / "out").exists(), "nothing partial is visible after a kill"
    before = {p.name: p.stat().st_ino for p in (tmp_path / ".out.partial").glob("part-*")
              if (commits / f"{p.name.split('.')[0]}.json").exists()}
    assert 5 <= len(before) < ROWS // 500
    [killed] = list_jobs(ws=ws)
    assert killed.status == "running"  # it never got to say otherwise …
    assert killed.state == "interrupted"  # … but its process is gone

    time.sleep(0.5)  # the workers die with the job (PR_SET_PDEATHSIG); give them a moment
    rerun = subprocess.run(_command(tmp_path, workers), env=_env(settings), capture_output=True,
                           text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["resumed"] is True and report["job"] == killed.id
    assert report["rows"] == ROWS and report["failed"] == 0
    # the rate is this run's: the rows committed before the kill are not in it
    assert report["scored"] == ROWS - 500 * len(before)
    assert report["rows_per_second"] == pytest.approx(report["scored"] / report["seconds"],
                                                      rel=0.01)

    out = tmp_path / "out"
    for name, inode in before.items():  # committed parts were kept, not redone
        assert (out / name).stat().st_ino == inode
    result = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    assert len(result) == ROWS and result.id.tolist() == list(range(ROWS))
    np.testing.assert_array_equal(result.prediction, expected(model, df))
    job = get_job(killed.id, ws=ws)
    assert (job.status, job.rows, job.options["resumed"]) == ("succeeded", ROWS, 1)


# ---------------------------------------------------------------- killed while publishing

_KILLED_AT = """
import os, sys
from modelport.runtimes.batch import predict_job
from modelport.runtimes.batch.writer import Staging
def die(*args, **kwargs):
    os._exit(9)  # as kill -9 would, at that instant
setattr(Staging, sys.argv[1], die)
predict_job("clf", sys.argv[2], sys.argv[3], keep=["id"], batch_size=500, workers=1)
"""


def _kill_at(step: str, settings: Settings, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT, step,
                           str(tmp_path / "in.parquet"), str(tmp_path / "out")],
                          env=_env(settings), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr


def test_a_resume_with_nothing_left_to_score_loads_no_model(
        ws: Workspace, settings: Settings, model, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from modelport.runtimes.batch import predict_job, scoring

    write_parquet(frame(3000), tmp_path / "in.parquet")
    _kill_at("publish", settings, tmp_path)  # every part committed, nothing published
    [killed] = list_jobs(ws=ws)
    assert killed.state == "interrupted"

    def no_model(*args: object) -> None:
        raise AssertionError("the model was loaded for nothing to score")

    monkeypatch.setattr(scoring.Scorer, "__init__", no_model)
    started = time.monotonic()
    report = predict_job("clf", str(tmp_path / "in.parquet"), str(tmp_path / "out"),
                         keep=["id"], batch_size=500, workers=1, ws=ws)
    assert time.monotonic() - started < 3
    assert report.resumed and report.job.id == killed.id and report.job.status == "succeeded"
    assert (report.rows, report.scored, report.rows_per_second) == (3000, 0, 0.0)
    assert len(pd.read_parquet(tmp_path / "out")) == 3000


def test_a_job_killed_after_its_output_appeared_is_not_left_interrupted(
        ws: Workspace, settings: Settings, model, tmp_path: Path) -> None:  # type: ignore
    from modelport.runtimes.batch import predict_job

    write_parquet(frame(3000), tmp_path / "in.parquet")
    _kill_at("tidy_published", settings, tmp_path)  # renamed, the row not yet closed
    out = tmp_path / "out"
    assert len(pd.read_parquet(out)) == 3000
    [job] = list_jobs(ws=ws)  # inspecting it reports what happened, with the real counts
    assert (job.status, job.state, job.rows, job.parts) == ("succeeded", "succeeded", 3000, 6)
    report = predict_job("clf", str(tmp_path / "in.parquet"), str(out), keep=["id"],
                         batch_size=500, workers=1, ws=ws)  # the same command closes it
    assert report.job.id == job.id and (report.rows, report.scored) == (3000, 0)
    assert not (out / "_commits").exists() and not (out / "_job.json").exists()
    stored = ws.store.jobs.get_job(job.id)  # as stored, not as the output tells it
    assert stored is not None and stored["status"] == "succeeded"
    with pytest.raises(InvalidInputError, match="already exists"):  # now an ordinary output
        predict_job("clf", str(tmp_path / "in.parquet"), str(out), ws=ws)
