"""``--project`` / ``MODELPORT_PROJECT`` and project-limited keys, as a user types them."""

from __future__ import annotations

import json

import pytest

from cli_runner import cli, cli_json
from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.scoped import ScopedStore
from modelport.core.workspace import Workspace
from team_server import modelport, team_server


@pytest.fixture
def project_env(env_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MODELPORT_PROJECT", "default")  # restored after: --project sets it
    return env_ws


def test_runs_and_models_stay_in_their_project(project_env: Workspace) -> None:
    cli("--project", "vision", "train", "--data", "sklearn:iris", "--target", "target",
        "--model", "knn", "--name", "iris")
    assert [m["name"] for m in cli_json("--project", "vision", "models", "list")] == ["iris"]
    [run] = cli_json("--project", "vision", "runs", "list")["runs"]
    assert run["project"] == "vision"
    assert cli_json("--project", "default", "models", "list") == []
    assert cli_json("--project", "default", "runs", "list")["runs"] == []


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
    made = cli_json("keys", "create", "release-bot", "--scope", "deploy", "--project",
                    "vision", "--model", "iris")
    assert (made["scopes"], made["projects"], made["models"]) == (["deploy"], ["vision"],
                                                                  ["iris"])
    assert "vision" in cli("keys", "list")
    out = _fails(project_env, "keys", "create", "root", "--scope", "admin", "--project", "v")
    assert "an admin key reaches every project" in out
    assert "invalid project name" in _fails(project_env, "keys", "create", "x", "--scope",
                                            "read", "--project", "../etc")


def _listed(*args: str) -> dict[str, tuple[int, ...]]:
    return {p["name"]: (p["runs"], p["models"], p["endpoints"], p["jobs"])
            for p in cli_json(*args, "projects", "list")}


def test_projects_are_listed_and_shown(project_env: Workspace) -> None:
    assert _listed() == {"default": (0, 0, 0, 0)}
    cli("--project", "vision", "train", "--data", "sklearn:iris", "--target", "target",
        "--model", "knn", "--name", "iris", "--no-onnx")
    assert _listed() == {"default": (0, 0, 0, 0), "vision": (1, 1, 0, 0)}
    assert "vision" in cli("projects", "list")
    shown = cli("projects", "show", "vision")
    assert "project vision" in shown and "runs" in shown
    assert cli_json("projects", "show", "vision")["models"] == 1
    assert "project 'nope' not found" in _fails(project_env, "projects", "show", "nope")


def test_a_limited_key_lists_only_its_projects_remotely(
        project_env: Workspace, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for project in ("alpha", "beta"):
        ScopedStore(project_env.store.inner, project).endpoints.create_endpoint(
            f"api-{project}", {"routes": [{"version": "m:1", "weight": 100.0}]}, now=1.0)
    key = create_key("alpha team", ["read"], ws=project_env, projects=["alpha"])[1]
    monkeypatch.delenv("MODELPORT_DB_URL")  # it would win over the server's URL
    with team_server(settings) as (url, admin):
        def listed(token: str, *args: str) -> dict[str, tuple[int, ...]]:
            done = modelport(*args, "projects", "list", "--json",
                             env={"MODELPORT_URL": url, "MODELPORT_TOKEN": token})
            assert done.returncode == 0, done.stderr
            return {p["name"]: (p["runs"], p["models"], p["endpoints"], p["jobs"])
                    for p in json.loads(done.stdout)}

        assert listed(admin) == {"default": (0, 0, 0, 0), "alpha": (0, 0, 1, 0),
                                 "beta": (0, 0, 1, 0)}
        assert listed(key) == listed(key, "--project", "alpha") == {"alpha": (0, 0, 1, 0)}
        done = modelport("projects", "show", "beta",
                         env={"MODELPORT_URL": url, "MODELPORT_TOKEN": key})
        assert done.stderr.startswith("error: project 'beta' not found"), done.stderr
