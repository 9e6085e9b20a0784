"""Run ids as a user copies them: printed on a line of their own, accepted by any unique start."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import modelport
from cli_runner import cli as wide_cli
from cli_runner import cli_json
from modelport.core.workspace import Workspace
from modelport.lifecycle.tracking import create_run

cli = functools.partial(wide_cli, columns=60)  # narrow: a title holding the id would wrap it


@pytest.mark.storage_independent
def test_train_prints_the_run_id_on_its_own_line_and_a_prefix_registers_it(
        env_ws: Workspace, backend: str) -> None:
    out = cli("train", "--data", "sklearn:iris", "--target", "target", "--model", "knn")
    run_id = next(line.removeprefix("run ") for line in out.splitlines()
                  if line.startswith("run "))
    assert len(run_id) == 32 and f"--run {run_id}\n" in out
    short = run_id[:12]  # what `runs list` shows
    assert f"run {run_id}\n" in cli("runs", "show", short)
    assert f"registered iris:1 from run {run_id}" in cli("models", "register", "iris",
                                                         "--run", short)
    assert cli_json("models", "show", "iris")["run_id"] == run_id


@pytest.mark.storage_independent
def test_runs_artifacts_lists_and_downloads(env_ws: Workspace, backend: str,
                                            tmp_path: Path) -> None:
    run = create_run(ws=env_ws)
    run.log_artifact(b"<html>report</html>", "report.html")
    run.log_artifact(b"{}", "study/best.json")
    run.end()
    listed = cli("runs", "artifacts", run.id[:10])
    assert "report.html" in listed and "study/best.json" in listed
    assert cli_json("runs", "artifacts", run.id) == \
        modelport.get_run(run.id, ws=env_ws).artifacts
    out = cli("runs", "artifacts", run.id[:10], "report.html", "--out", str(tmp_path / "o"))
    assert "✓" in out and "(19 bytes)" in out
    assert (tmp_path / "o" / "report.html").read_bytes() == b"<html>report</html>"
    cli("runs", "artifacts", run.id, "--out", str(tmp_path / "all"))
    assert (tmp_path / "all" / "study" / "best.json").read_bytes() == b"{}"
