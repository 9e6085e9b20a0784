"""Batch output stays where it is asked to go: part names come from counters, never from
data, and a staging directory that is a link (planted in a shared directory) is refused
before anything is written or cleared through it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _batchdata import frame, write_parquet

from modelport.core.workspace import Workspace
from modelport.errors import ConflictError
from modelport.runtimes.batch import predict_job


def test_a_planted_staging_link_is_refused_and_its_target_untouched(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_parquet(frame(50), tmp_path / "in.parquet")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    (victim / "_job.json").write_text('{"job_id": "x", "version": 1, "fingerprint": {}}')
    shared = tmp_path / "shared"
    shared.mkdir()
    os.symlink(victim, shared / ".scores.partial")
    with pytest.raises(ConflictError, match="not a private directory"):
        predict_job("clf", str(tmp_path / "in.parquet"), str(shared / "scores"), restart=True,
                    ws=ws)
    assert sorted(p.name for p in victim.iterdir()) == ["_job.json", "precious.txt"]
    assert not (shared / "scores").exists()


def test_part_names_come_from_counters_not_from_data(
        ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(30)
    df["id"] = [f"../../escape-{i}" for i in range(30)]
    nested = tmp_path / "day=..%2F..%2Fescape"
    nested.mkdir()
    write_parquet(df, nested / "part.parquet")
    out = tmp_path / "out" / "scores"
    predict_job("clf", str(nested / "*.parquet"), str(out), keep=["id"], ws=ws)
    home = ws.settings.home.resolve()
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*")
               if p.is_file() and home not in p.resolve().parents}
    assert written == {"day=..%2F..%2Fescape", "out"}
    assert all(p.name.startswith(("part-", "_")) for p in out.iterdir())
