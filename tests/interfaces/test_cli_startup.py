"""The command line starts fast: what it imports is checked, not how long it takes.

Timing a start-up in a test flakes on a shared machine; the modules a command
loads do not. Each heavy library named here costs from 50 ms to seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# never needed to print help or list the registry
HEAVY = {"sklearn", "pandas", "onnxruntime", "onnx", "optuna", "scipy", "pyarrow", "lightgbm",
         "xgboost", "river", "torch", "numpy", "skops", "ray", "statsforecast"}


def _imported(args: list[str], home: Path) -> set[str]:
    """Top-level packages ``modelport ARGS`` imports, from ``python -X importtime``."""
    env = {**os.environ, "MODELPORT_HOME": str(home), "COLUMNS": "200"}
    env.pop("MODELPORT_DB_URL", None)
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "modelport", *args],
                            capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args, also_heavy", [
    (["--help"], {"sqlalchemy", "alembic"}),
    (["models", "--help"], {"sqlalchemy", "alembic"}),
    (["models", "list"], {"alembic"}),
])
def test_command_loads_no_heavy_library(tmp_path: Path, args: list[str],
                                        also_heavy: set[str]) -> None:
    _imported(["models", "list"], tmp_path)  # creates the workspace: a first start migrates
    loaded = _imported(args, tmp_path)
    assert "modelport" in loaded
    assert loaded & (HEAVY | also_heavy) == set()


def test_first_start_migrates_later_ones_do_not(tmp_path: Path) -> None:
    assert "alembic" in _imported(["models", "list"], tmp_path)
    assert "alembic" not in _imported(["models", "list"], tmp_path)
