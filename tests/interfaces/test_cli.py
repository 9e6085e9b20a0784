"""The CLI as a user runs it: real commands, real exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_runner import cli, cli_json
from modelport.core.workspace import Workspace
from stderr_lines import error_lines


@pytest.mark.storage_independent
def test_quickstart_twice(env_ws: Workspace) -> None:
    first = cli("quickstart")
    assert "champion" in first and "breast_cancer:1" in first and "breast_cancer:2" in first
    assert "ONNX copy checked" in first
    second = cli("quickstart")
    assert "breast_cancer:3" in second and "breast_cancer:4" in second
    versions = cli_json("models", "versions", "breast_cancer")
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    champion = cli_json("models", "show", "breast_cancer@champion")
    assert champion["version"] in (3, 4) and champion["onnx"]["passed"] is True


def test_train_runs_and_models_commands(env_ws: Workspace, tmp_path: Path) -> None:
    out = cli_json("train", "--data", "sklearn:iris", "--target", "target", "--model",
                   "decision_tree", "--param", "max_depth=3", "--name", "iris")
    assert out["version"] == "iris:1" and out["task"] == "classification"
    plain = cli_json("train", "--data", "sklearn:iris", "--target", "target", "--model",
                     "knn", "-p", "n_neighbors=7")
    assert plain["version"] is None

    runs = cli_json("runs", "list", "--filter", "params.max_depth = '3'", "--order-by",
                    "metrics.test_accuracy DESC")
    assert [r["id"] for r in runs["runs"]] == [out["run_id"]]
    shown = cli_json("runs", "show", out["run_id"])
    assert shown["params"]["max_depth"] == "3" and "test_accuracy" in shown["metrics"]
    assert "params" in cli("runs", "show", out["run_id"][:12])
    assert "decision_tree" in cli("runs", "list")

    registered = cli("models", "register", "iris", "--run", plain["run_id"])
    assert "iris:2" in registered
    cli("models", "alias", "iris", "champion", "1")
    cli("models", "tag", "iris:1", "stage", "prod")
    cli("models", "describe", "iris", "flower classifier")
    listed = cli_json("models", "list")
    assert listed[0]["name"] == "iris" and listed[0]["aliases"] == {"champion": 1}
    assert listed[0]["description"] == "flower classifier"
    assert cli_json("models", "show", "iris")["tags"] == {"stage": "prod"}
    assert "iris:1" in cli("models", "show", "iris")

    exported = cli_json("models", "export-onnx", "iris@champion")
    assert exported["passed"] is True
    predicted = cli("predict", "iris@champion", "--input", "sklearn:iris", "--runtime", "onnx")
    assert "proba_2" in predicted
    out_file = tmp_path / "pred.csv"
    cli("predict", "iris", "--input", "sklearn:iris", "--output", str(out_file))
    assert len(out_file.read_text().splitlines()) == 151

    cli("models", "alias", "iris", "champion", "--delete")
    cli("models", "delete", "iris:2", "--yes")
    assert [v["version"] for v in cli_json("models", "versions", "iris")] == [1]
    cli("models", "delete", "iris", "--yes")
    assert cli_json("models", "list") == []


def _modelport(env_ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELPORT_HOME": str(env_ws.settings.home),
           "MODELPORT_DB_URL": env_ws.settings.db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


@pytest.mark.storage_independent
@pytest.mark.parametrize("args, message", [
    (["train", "--data", "sklearn:nope", "--target", "t", "--model", "knn"],
     "unknown bundled dataset"),
    (["train", "--data", "sklearn:iris", "--target", "label", "--model", "knn"],
     "target column 'label'"),
    (["train", "--data", "sklearn:iris", "--target", "target", "--model", "wizard"],
     "unknown estimator"),
    (["train", "--data", "sklearn:iris", "--target", "target", "--model", "knn", "-p",
      "n_neighbors=-1"], "could not be trained"),
    (["models", "show", "ghost"], "model 'ghost' not found"),
    (["models", "show", "bad ref!"], "invalid model name"),
    (["models", "show", "ghost@champion"], "model 'ghost' not found"),
    (["runs", "list", "--filter", "metrics.x >"], "cannot parse filter"),
    (["runs", "show", "0" * 32], "not found"),
    (["--db-url", "mysql://x/y", "models", "list"], "unsupported database"),
])
def test_errors_are_one_line_without_traceback(env_ws: Workspace, args: list[str],
                                                message: str) -> None:
    result = _modelport(env_ws, *args)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)  # the steps done before it are ticked off above it
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_DB_URL": "postgresql+psycopg://u:pw@127.0.0.1:1/x",
           "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "modelport", "models", "list"],
                            capture_output=True, text=True, env=env, timeout=60, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: cannot reach the database")
    assert "pw" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_import_is_light() -> None:
    code = ("import sys, modelport; heavy = {'sklearn', 'sqlalchemy', 'onnxruntime', 'pandas', "
            "'lightgbm', 'xgboost', 'skops'} & {m.split('.')[0] for m in sys.modules}; "
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"


def test_error_text_is_printed_as_typed(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from modelport.errors import MissingDependencyError
    from modelport.interfaces.cli import main

    def missing() -> None:
        raise MissingDependencyError("lightgbm", "lightgbm")

    monkeypatch.setattr(main, "app", missing)
    with pytest.raises(SystemExit) as exit_info:
        main.run()
    assert exit_info.value.code == 1
    assert "pip install 'modelport[lightgbm]'" in capsys.readouterr().err
