"""Importing ONNX graphs trained elsewhere: signature, metadata, external data, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_runner import cli
from graphs import DIM, ITEMS, USERS, reference, save, two_tower
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, SchemaError, UnsafeArtifactError
from modelport.lifecycle.importing import import_onnx
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import list_models

# what these check does not depend on the metadata store; its records (runs, versions,
# jobs) are tested on PostgreSQL too in tests/core/store and tests/lifecycle/test_registry
pytestmark = pytest.mark.storage_independent

onnx = pytest.importorskip("onnx")
helper = onnx.helper


def _feeds(n: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {"user_id": rng.integers(0, USERS, (n, 1)), "item_id": rng.integers(0, ITEMS, (n, 1))}


def test_import_records_digest_opset_producer_and_a_tensor_signature(
        ws: Workspace, tmp_path: Path) -> None:
    model = two_tower()
    path = save(model, tmp_path / "recs.onnx")
    v = import_onnx(path, "recs", ws=ws)
    assert v.format == "onnx" and v.version == 1
    assert v.artifact_size == path.stat().st_size and len(v.artifact_digest) == 64
    assert v.tags["onnx.opset"] == "17" and v.tags["onnx.producer"] == "pytorch 2.5.0"
    tensors = {t.name: t for t in v.signature.tensors or []}
    assert tensors["user_id"].dtype == "int64" and tensors["user_id"].shape == ["batch", 1]
    assert [o.name for o in v.signature.outputs] == ["score"]
    assert v.signature.inputs == []
    predictor = load("recs:1", ws=ws)
    feeds = _feeds()
    got = predictor.predict_outputs(feeds)
    np.testing.assert_array_equal(got["score"], reference(model, feeds)["score"])


def test_external_data_beside_the_model_is_embedded(ws: Workspace, tmp_path: Path) -> None:
    model = two_tower(seed=3)
    path = save(model, tmp_path / "recs.onnx", external=True)
    assert (tmp_path / "weights.bin").stat().st_size >= (USERS + ITEMS) * DIM * 4
    v = import_onnx(path, "recs", ws=ws)
    assert v.tags["onnx.external_files"] == "1"
    (tmp_path / "weights.bin").unlink()  # the version keeps its own copy
    feeds = _feeds()
    got = load("recs", ws=ws).predict_outputs(feeds)
    np.testing.assert_array_equal(got["score"], reference(model, feeds)["score"])


def _point_weights_at(path: Path, location: str) -> Path:
    """Rewrite an external-data model so its tensors name ``location``."""
    crafted = onnx.load(str(path), load_external_data=False)
    for tensor in crafted.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    out = path.with_name("crafted.onnx")
    out.write_bytes(crafted.SerializeToString())
    return out


@pytest.mark.parametrize("where", ["../outside.bin", "/etc/hostname", "link.bin"])
def test_external_data_outside_the_directory_is_refused(
        ws: Workspace, tmp_path: Path, where: str) -> None:
    inner = tmp_path / "model"
    inner.mkdir()
    path = save(two_tower(), inner / "recs.onnx", external=True)
    (tmp_path / "outside.bin").write_bytes((inner / "weights.bin").read_bytes())
    os.symlink(tmp_path / "outside.bin", inner / "link.bin")
    crafted = _point_weights_at(path, where)
    with pytest.raises(UnsafeArtifactError, match="not a file inside the model's own directory"):
        import_onnx(crafted, "recs", ws=ws)
    assert list_models(ws=ws) == []


def test_a_custom_operator_is_refused_naming_it(ws: Workspace, tmp_path: Path) -> None:
    model = two_tower()
    model.graph.node[4].CopyFrom(helper.make_node("FastSigmoid", ["dot"], ["score"],
                                                  domain="com.example"))
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    with pytest.raises(UnsafeArtifactError, match=r"operator 'FastSigmoid' is from domain "
                                                  r"'com\.example'"):
        import_onnx(save(model, tmp_path / "m.onnx"), "recs", ws=ws)


def test_an_operator_unknown_at_the_opset_is_refused_naming_it(
        ws: Workspace, tmp_path: Path) -> None:
    model = two_tower()
    model.graph.node[4].CopyFrom(helper.make_node("Sigmoidish", ["dot"], ["score"]))
    with pytest.raises(InvalidInputError, match="operator 'Sigmoidish' is not defined at opset 17"):
        import_onnx(save(model, tmp_path / "m.onnx"), "recs", ws=ws)
    # an operator newer than the graph's opset: Gelu arrived in opset 20
    model = two_tower(opset=17)
    model.graph.node[4].CopyFrom(helper.make_node("Gelu", ["dot"], ["score"]))
    with pytest.raises(InvalidInputError, match="operator 'Gelu' is not defined at opset 17"):
        import_onnx(save(model, tmp_path / "m.onnx"), "recs", ws=ws)


def test_an_opset_beyond_this_installation_is_refused(ws: Workspace, tmp_path: Path) -> None:
    model = two_tower()
    model.opset_import[0].version = 999
    with pytest.raises(InvalidInputError, match="uses opset 999"):
        import_onnx(save(model, tmp_path / "m.onnx"), "recs", ws=ws)


def test_not_an_onnx_file(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x00\xffnot protobuf at all" * 10)
    with pytest.raises(InvalidInputError, match=r"junk\.onnx is not an ONNX model"):
        import_onnx(tmp_path / "junk.onnx", "recs", ws=ws)
    with pytest.raises(InvalidInputError, match="no ONNX file"):
        import_onnx(tmp_path / "missing.onnx", "recs", ws=ws)


def test_labels_and_an_input_example(ws: Workspace, tmp_path: Path) -> None:
    path = save(two_tower(), tmp_path / "recs.onnx")
    (tmp_path / "labels.txt").write_text("match\n")
    (tmp_path / "example.json").write_text(json.dumps({"user_id": [[1]], "item_id": [[2]]}))
    v = import_onnx(path, "recs", labels=tmp_path / "labels.txt",
                    input_example=tmp_path / "example.json", ws=ws)
    assert v.signature.classes == ["match"]
    assert v.input_example == [{"user_id": [[1]], "item_id": [[2]]}]
    (tmp_path / "bad.json").write_text(json.dumps({"user_id": [[1]], "item": [[2]]}))
    with pytest.raises(InvalidInputError, match="input example does not run: unknown input "
                                                "'item'"):
        import_onnx(path, "recs", input_example=tmp_path / "bad.json", ws=ws)
    (tmp_path / "twice.txt").write_text("a\na\n")
    with pytest.raises(InvalidInputError, match="labels must be distinct"):
        import_onnx(path, "recs", labels=tmp_path / "twice.txt", ws=ws)
    assert [m.versions for m in list_models(ws=ws)] == [1]


def test_wrong_tensors_are_refused_naming_them(ws: Workspace, tmp_path: Path) -> None:
    import_onnx(save(two_tower(), tmp_path / "recs.onnx"), "recs", ws=ws)
    predictor = load("recs", ws=ws)
    ids = np.array([[1], [2]])
    cases = [
        ({"user_id": ids}, "missing input 'item_id'"),
        ({"user_id": ids, "item_id": ids, "extra": ids}, "unknown input 'extra'"),
        ({"user_id": ids[:, 0], "item_id": ids}, "input 'user_id' needs 2 dimension"),
        ({"user_id": np.ones((2, 3), np.int64), "item_id": ids}, "'user_id' axis 1 must have "
                                                                 "size 1, got 3"),
        ({"user_id": ids + 0.5, "item_id": ids}, "input 'user_id' takes int64, got float64"),
        ({"user_id": np.array([["a"], ["b"]]), "item_id": ids}, "takes int64, got"),
        ({"user_id": ids, "item_id": np.array([[1], [2], [3]])}, "disagree on the batch size"),
        ({"user_id": np.array([[USERS + 5]]), "item_id": np.array([[1]])},
         "the graph refused this input"),
        ([[1, 2]], "this model takes named tensors"),
    ]
    for batch, message in cases:
        with pytest.raises(SchemaError, match=message):
            predictor.predict_outputs(batch)


def test_cli_import_and_show(env_ws: Workspace, tmp_path: Path) -> None:
    path = save(two_tower(), tmp_path / "recs.onnx")
    out = cli("models", "import", str(path), "--name", "recs")
    assert "imported recs:1" in out and "opset 17" in out
    assert "user_id int64[batch, 1]" in out
    shown = cli("models", "show", "recs:1")
    assert "user_id" in shown and "[batch, 1]" in shown
    bad = subprocess.run(  # the real entry point: one error line, no traceback
        [sys.executable, "-m", "modelport", "models", "import", str(tmp_path / "nope.onnx"),
         "--name", "x"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        f"error: no ONNX file at {tmp_path / 'nope.onnx'}"]
