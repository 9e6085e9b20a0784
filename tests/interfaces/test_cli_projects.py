"""``--project`` / ``MODELPORT_PROJECT`` and project-limited keys, as a user types them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from modelport.core.workspace import Workspace
from modelport.interfaces.cli.main import app
from team_server import modelport

runner = CliRunner(env={"COLUMNS": "200"})


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def project_env(env_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MODELPORT_PROJECT", "default")  # restored after: --project sets it
    return env_ws


def test_runs_and_models_stay_in_their_project(project_env: Workspace) -> None:
    cli("--project", "vision", "train", "--data", "sklearn:iris", "--target", "target",
        "--model", "knn", "--name", "iris")
    assert [m["name"] for m in json.loads(cli("--project", "vision", "models", "list",
                                              "--json"))] == ["iris"]
    [run] = json.loads(cli("--project", "vision", "runs", "list", "--json"))["runs"]
    assert run["project"] == "vision"
    assert json.loads(cli("--project", "default", "models", "list", "--json")) == []
    assert json.loads(cli("--project", "default", "runs", "list", "--json"))["runs"] == []


def _fails(env_ws: Workspace, *args: str) -> str:
    """The one line a mistake prints, from the command as a user runs it."""
    done = modelport(*args, env={"MODELPORT_HOME": str(env_ws.settings.home)})
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_a_bad_project_name_is_one_line(project_env: Workspace) -> None:
    out = _fails(project_env, "--project", "no spaces", "models", "list")
    assert out.startswith("error: invalid project name 'no spaces'")
    out = _fails(project_env, "--project", "vision", "models", "versions", "iris")
    assert "model 'iris' not found" in out


def test_keys_are_created_with_a_role_projects_and_models(project_env: Workspace) -> None:
    made = json.loads(cli("keys", "create", "release-bot", "--scope", "deploy", "--project",
                          "vision", "--model", "iris", "--json"))
    assert (made["scopes"], made["projects"], made["models"]) == (["deploy"], ["vision"],
                                                                  ["iris"])
    assert "vision" in cli("keys", "list")
    out = _fails(project_env, "keys", "create", "root", "--scope", "admin", "--project", "v")
    assert "an admin key reaches every project" in out
    assert "invalid project name" in _fails(project_env, "keys", "create", "x", "--scope",
                                            "read", "--project", "../etc")
