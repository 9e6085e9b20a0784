"""``modelport endpoints`` and ``modelport rollout`` as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_runner import cli, cli_json
from modelport.core.workspace import Workspace
from modelport.interfaces.cli.release import fraction, seconds


@pytest.fixture
def models(env_ws: Workspace) -> Workspace:
    for model in ("decision_tree", "knn"):
        cli("train", "--data", "sklearn:iris", "--target", "target", "--model", model,
            "--name", "iris")
    return env_ws


def test_endpoint_and_rollout_commands(models: Workspace) -> None:
    assert "iris:1 100%" in cli("endpoints", "create", "api", "--model", "iris:1")
    assert cli_json("endpoints", "list")[0]["name"] == "api"
    out = cli("rollout", "canary", "api", "--to", "iris:2", "--steps", "10,50,100",
              "--interval", "1m", "--max-error-rate", "2%", "--sticky-header", "X-User")
    assert "started at 10%" in out
    shown = cli("endpoints", "show", "api")
    assert "iris:1 90% · iris:2 10% · sticky on X-User" in shown and "canary" in shown
    status = cli_json("rollout", "status", "api")
    assert status["rollout"]["config"]["thresholds"]["max_error_rate"] == 0.02
    assert status["rollout"]["config"]["interval_s"] == 60
    assert "paused" in cli("rollout", "pause", "api")
    assert "running" in cli("rollout", "resume", "api")
    assert "serving iris:1" in cli("rollout", "abort", "api")
    cli("rollout", "shadow", "api", "--to", "iris:2", "--percent", "10")
    assert "shadow iris:2 10%" in cli("endpoints", "show", "api")
    assert "serving iris:2" in cli("rollout", "promote", "api")
    assert "serving iris:1" in cli("rollout", "rollback", "api")
    cli("rollout", "bluegreen", "api", "--to", "iris:2", "--grace", "30s")
    assert "warm iris:2" in cli("endpoints", "show", "api")
    history = cli_json("rollout", "history", "api")
    assert [h["rollout"]["kind"] for h in history] == ["canary", "shadow", "bluegreen"]
    assert [e["action"] for e in history[0]["events"]] == ["start", "pause", "resume", "abort"]
    assert "abort" in cli("rollout", "history", "api")
    cli("endpoints", "delete", "api", "--yes")
    assert cli_json("endpoints", "list") == []


@pytest.mark.storage_independent
def test_status_shows_client_errors_apart_and_feedback_keys(models: Workspace) -> None:
    from modelport.runtimes.serving.stats import StatsRecorder

    cli("endpoints", "create", "api", "--model", "iris:1")
    cli("rollout", "canary", "api", "--to", "iris:2", "--steps", "10,100")
    rec = StatsRecorder()
    for status in (200, 200, 500, *[422] * 7):
        rec.request("api", "iris:2", 0.001, status, None)
    rec.feedback("api", "iris:2", 4, 3)
    rec.feedback("api", "iris:2", 10, 0, verified=False)
    rec.flush(models)
    shown = cli_json("rollout", "status", "api")["stats"]["iris:2"]
    assert (shown["requests"], shown["errors"], shown["client_errors"]) == (3, 1, 7)
    table = cli("rollout", "status", "api")
    assert "client errors (4xx)" in table and "33.33%" in table
    assert "75.0% of 4 · unverified 0.0% of 10" in table
    created = cli_json("keys", "create", "labeller", "--scope", "feedback")
    assert created["scopes"] == ["feedback"]


@pytest.mark.storage_independent
@pytest.mark.parametrize("args, message", [
    (["endpoints", "show", "ghost"], "endpoint 'ghost' not found"),
    (["endpoints", "create", "api", "--model", "ghost"], "model 'ghost' not found"),
    (["rollout", "canary", "ghost", "--to", "iris:2"], "endpoint 'ghost' not found"),
    (["rollout", "canary", "api", "--to", "iris:2", "--steps", "a,b"], "invalid steps"),
    (["rollout", "canary", "api", "--to", "iris:2", "--interval", "soon"],
     "invalid duration"),
    (["rollout", "canary", "api", "--to", "iris:1"], "already what the endpoint serves"),
    (["rollout", "promote", "api"], "no rollout in progress"),
    (["rollout", "status", "api"], "has had no rollout"),
])
def test_release_errors_are_one_line(models: Workspace, args: list[str], message: str) -> None:
    cli("endpoints", "create", "api", "--model", "iris:1")
    env = {**os.environ, "MODELPORT_HOME": str(models.settings.home),
           "MODELPORT_DB_URL": models.settings.db_url}
    result = subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                            text=True, env=env, timeout=120, check=False)
    assert result.returncode == 1, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_durations_and_rates() -> None:
    assert seconds("30s") == 30 and seconds("2m") == 120 and seconds("1h") == 3600
    assert seconds("250ms") == 0.25 and seconds("5") == 5
    assert fraction("1%") == 0.01 and fraction("0.05") == 0.05


@pytest.mark.storage_independent
def test_status_shows_the_shadows_requests_latency_and_errors(models: Workspace) -> None:
    from modelport.runtimes.serving.stats import StatsRecorder

    cli("endpoints", "create", "api", "--model", "iris:1")
    cli("rollout", "shadow", "api", "--to", "iris:2", "--percent", "50")
    rec = StatsRecorder()
    for _ in range(4):
        rec.request("api", "iris:1", 0.002, 200, None)
    for ok, agree in ((True, 2), (True, 1), (False, 0)):
        rec.shadow("api", "iris:2", 0.004, ok, 2, agree)
    rec.flush(models)
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in cli("rollout", "status", "api").splitlines()
            if line.startswith("│")}
    assert rows["iris:1"][:3] == ["4", "0", "0.00%"] and rows["iris:1"][-1] == "-"
    requests, errors, rate, _, p99, _, agrees = rows["iris:2 (shadow)"]
    assert (requests, errors, rate, agrees) == ("3", "1", "33.33%", "50.0%")
    assert float(p99) > 0
    assert "iris:2" not in rows  # no live traffic of its own: only its shadow row
