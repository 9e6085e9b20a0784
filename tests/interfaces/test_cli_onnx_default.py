"""``modelport train`` registers the fast path by default and says which runtime
serves the version in one line; ``--no-onnx`` skips the copy."""

from __future__ import annotations

import json

import pytest

from cli_runner import cli
from modelport.core.workspace import Workspace

pytest.importorskip("skl2onnx")

IRIS = ["train", "--data", "sklearn:iris", "--target", "target", "--cv", "2"]


def test_train_then_the_version_has_a_checked_onnx_copy(env_ws: Workspace) -> None:
    out = cli(*IRIS, "--model", "logistic_regression", "--name", "iris")
    # the verdict, not the progress step that checked it ("✓ checking an ONNX copy …")
    [line] = [line for line in out.splitlines() if line.startswith("iris:1")]
    assert line.startswith("iris:1: ONNX copy checked (max abs difference ")
    assert line.endswith(" rows) — onnxruntime serves it")
    shown = json.loads(cli("models", "show", "iris:1", "--json"))
    assert shown["onnx"]["passed"] is True


def test_a_model_that_cannot_convert_says_so_in_one_line(env_ws: Workspace) -> None:
    out = cli(*IRIS, "--model", "sklearn.neighbors.NearestCentroid", "--name", "centroid")
    assert "registered centroid:1" in out and "error" not in out.lower()
    [line] = [line for line in out.splitlines() if line.startswith("centroid:1")]
    assert line.startswith("centroid:1 has no ONNX copy: ONNX conversion of this Pipeline "
                           "failed") and line.endswith("native runtime")


def test_no_onnx_and_json(env_ws: Workspace) -> None:
    skipped = json.loads(cli(*IRIS, "--model", "logistic_regression", "--name", "iris",
                             "--no-onnx", "--json"))
    assert skipped["version"] == "iris:1" and skipped["onnx"] is None
    plain = cli(*IRIS, "--model", "logistic_regression", "--name", "iris", "--no-onnx")
    assert "registered iris:2" in plain and "ONNX" not in plain
    checked = json.loads(cli(*IRIS, "--model", "logistic_regression", "--name", "iris",
                             "--json"))
    assert checked["version"] == "iris:3" and checked["onnx"]["passed"] is True
