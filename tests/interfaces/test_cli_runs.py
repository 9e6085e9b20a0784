"""Run ids as a user copies them: printed on a line of their own, accepted by any unique start."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelport.core.workspace import Workspace
from modelport.interfaces.cli.main import app

runner = CliRunner(env={"COLUMNS": "60"})  # narrow: a title holding the id would wrap it


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


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
    assert json.loads(cli("models", "show", "iris", "--json"))["run_id"] == run_id
