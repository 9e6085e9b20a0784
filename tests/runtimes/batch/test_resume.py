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
from modelport.runtimes.batch import get_job, list_jobs

ROWS = 120_000


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

    out = tmp_path / "out"
    for name, inode in before.items():  # committed parts were kept, not redone
        assert (out / name).stat().st_ino == inode
    result = pd.read_parquet(out).sort_values("id").reset_index(drop=True)
    assert len(result) == ROWS and result.id.tolist() == list(range(ROWS))
    np.testing.assert_array_equal(result.prediction, expected(model, df))
    job = get_job(killed.id, ws=ws)
    assert (job.status, job.rows, job.options["resumed"]) == ("succeeded", ROWS, 1)
