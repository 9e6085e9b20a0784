"""Feedback while working: ✓ and its own duration per step; plain lines off a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import pytest
from rich.console import Console

from cli_runner import succeeded
from modelport.core.workspace import Workspace
from modelport.interfaces.cli import progress
from modelport.interfaces.cli.progress import Steps


def _plain() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


def test_each_step_is_ticked_with_its_own_duration() -> None:
    console, out = _plain()
    reporter = Steps("loading", out=console, every=60)
    time.sleep(0.3)
    reporter.say("knn: trial 1")
    reporter.say("knn: trial 2")  # same step, new detail: no tick
    reporter.say("linear: trial 1")
    reporter.close()
    lines = out.getvalue().splitlines()
    assert [re.sub(r"\(\d+\.\d s\)", "(T)", line) for line in lines] == [
        "✓ loading (T)", "✓ knn: trial 2 (T)", "✓ linear: trial 1 (T)"]
    assert 0.3 <= float(lines[0].split("(")[1].split()[0]) < 1.0  # not cumulative:
    assert float(lines[2].split("(")[1].split()[0]) < 0.2           # each its own clock


def test_off_a_terminal_a_plain_line_comes_every_few_seconds() -> None:
    console, out = _plain()
    reporter = Steps("searching: trial 1", out=console, every=0.2)
    time.sleep(0.5)
    reporter.say("searching: trial 2")
    time.sleep(0.3)
    reporter.close(finished=False)  # an error follows: no ✓ for an unfinished step
    lines = out.getvalue().splitlines()
    assert lines[0] == "… searching: trial 1 (0 s)"  # the step's own clock, in whole seconds
    assert any(line.startswith("… searching: trial 2 (") for line in lines[1:])
    assert len(lines) >= 3 and not any(line.startswith("✓") for line in lines)


def test_messages_are_text_not_markup() -> None:
    console, out = _plain()
    reporter = Steps("[bold]x[/bold]", out=console, every=60)
    reporter.close()
    assert out.getvalue().startswith("✓ [bold]x[/bold] (")


@pytest.mark.storage_independent
def test_tune_in_a_pipe_prints_progress_lines(env_ws: Workspace, backend: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("optuna")
    monkeypatch.setattr(progress, "HEARTBEAT", 0.05)
    result = succeeded("tune", "--data", "sklearn:wine", "--target", "target", "--model", "knn",
                       "--trials", "8", "--cv", "3")
    assert re.search(r"^… searching: trial \d of 8", result.stderr, re.M), result.stderr
    assert re.search(r"^✓ searching: trial 8 of 8, best accuracy 0\.\d+ \(\d+\.\d s\)$",
                     result.stderr, re.M), result.stderr
    assert "✓" not in result.stdout  # progress on stderr: stdout stays the result


@pytest.mark.storage_independent
def test_train_in_a_pipe_ticks_its_steps(env_ws: Workspace, backend: str) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(env_ws.settings.home),
           "MODELPORT_DB_URL": env_ws.settings.db_url}
    done = subprocess.run([sys.executable, "-m", "modelport", "train", "--data", "sklearn:iris",
                           "--target", "target", "--model", "knn"], capture_output=True,
                          text=True, env=env, timeout=120, check=True)
    ticked = [line.split(" (")[0] for line in done.stderr.splitlines()
              if line.startswith("✓")]
    assert ticked == ["✓ loading the data", "✓ cross-validating sklearn.KNeighborsClassifier",
                      "✓ fitting sklearn.KNeighborsClassifier on 120 rows",
                      "✓ storing the model"], done.stderr


@pytest.mark.storage_independent
def test_automl_ticks_its_search_off_once(env_ws: Workspace, backend: str) -> None:
    result = succeeded("automl", "--data", "sklearn:iris", "--target", "target", "--budget", "3",
                       "--families", "linear,knn", "--cv", "3")
    ticked = [line.split(" (")[0].split(":")[0] for line in result.stderr.splitlines()
              if line.startswith("✓ ")]
    # every trial of every family is one step, not a line each
    assert ticked == ["✓ loading the data", "✓ searching", "✓ refitting the winner"], ticked
