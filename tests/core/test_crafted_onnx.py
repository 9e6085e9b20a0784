"""Crafted ONNX: a tensor stored as external data, wherever it hides, and operators from
a custom domain are refused at registration and at load; onnxruntime itself is given
an empty folder to resolve external data against."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from modelport.core.formats import get_format
from modelport.core.formats.onnx import OnnxFormat
from modelport.core.signature import Signature
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, UnsafeArtifactError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402

WIDTH = 8


def external(name: str, location: str, size: int = WIDTH) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.UINT8, dims=[size])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(size))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def adder(weights: TensorProto, domain: str = "") -> bytes:
    """``output = input + W``: whatever W holds comes back in the answer."""
    x = helper.make_tensor_value_info("input", TensorProto.UINT8, [WIDTH])
    y = helper.make_tensor_value_info("output", TensorProto.UINT8, [WIDTH])
    node = helper.make_node("Add", ["input", "W"], ["output"], domain=domain)
    graph = helper.make_graph([node], "g", [x], [y], initializer=[weights])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def hidden_in_subgraph(location: str) -> bytes:
    """The external tensor inside an ``If`` branch's Constant node."""
    const = helper.make_node("Constant", [], ["W"], value=external("secret", location))
    branch_out = helper.make_tensor_value_info("W", TensorProto.UINT8, [WIDTH])
    branch = helper.make_graph([const], "then", [], [branch_out])
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    y = helper.make_tensor_value_info("output", TensorProto.UINT8, [WIDTH])
    node = helper.make_node("If", ["cond"], ["output"], then_branch=branch, else_branch=branch)
    graph = helper.make_graph([node], "g", [cond], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]
                             ).SerializeToString()


@pytest.fixture
def secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private key file next to the working directory, as a workspace's signing key is."""
    (tmp_path / "signing").mkdir()
    (tmp_path / "signing" / "edge.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    monkeypatch.chdir(tmp_path)
    return "signing/edge.key"


@pytest.mark.parametrize("location", ["signing/edge.key", "./signing/edge.key",
                                      "../x/signing/edge.key", "/etc/passwd"])
def test_external_data_is_refused_at_load(secret: str, location: str) -> None:
    with pytest.raises(UnsafeArtifactError, match="external data"):
        get_format("onnx").load_model(adder(external("W", location)))


def test_external_data_in_a_subgraph_is_refused(secret: str) -> None:
    with pytest.raises(UnsafeArtifactError, match="external data"):
        get_format("onnx").load_model(hidden_in_subgraph(secret))


def test_onnxruntime_never_resolves_against_the_working_directory(
        secret: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second layer: with the model check skipped, the session still finds no file."""
    monkeypatch.setattr(OnnxFormat, "check", lambda self, data: None)
    with pytest.raises(InvalidInputError, match=r"External data path") as info:
        get_format("onnx").load_model(adder(external("W", secret)))
    assert b"PRIVATE" not in str(info.value).encode()


@pytest.mark.parametrize("domain", ["com.microsoft", "com.evil.customops", "ai.onnx.preview"])
def test_custom_op_domains_are_refused(domain: str) -> None:
    weights = helper.make_tensor("W", TensorProto.UINT8, [WIDTH], [1] * WIDTH)
    with pytest.raises(UnsafeArtifactError, match="domain"):
        get_format("onnx").load_model(adder(weights, domain=domain))


def test_a_plain_model_still_loads(secret: str) -> None:
    weights = helper.make_tensor("W", TensorProto.UINT8, [WIDTH], [1] * WIDTH)
    session = get_format("onnx").load_model(adder(weights))
    out = session.run(None, {"input": np.zeros(WIDTH, np.uint8)})[0]
    assert out.tolist() == [1] * WIDTH


def _register(ws: Workspace, data: bytes) -> None:
    from modelport.lifecycle.registry import register_artifact

    signature = Signature.infer(__import__("pandas").DataFrame(
        np.zeros((2, WIDTH)), columns=[f"f{i}" for i in range(WIDTH)]))
    register_artifact("evil", "onnx", data, signature, ws=ws)


def test_register_refuses_external_data_pointing_at_the_signing_key(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reported attack: a model whose W is the workspace's signing key."""
    from modelport.runtimes.edge import signing

    monkeypatch.setenv("MODELPORT_HOME", str(ws.settings.home))
    key = signing.create_signing_key("fleet")
    monkeypatch.chdir(ws.settings.home)
    location = os.path.relpath(key.path, ws.settings.home)
    with pytest.raises(UnsafeArtifactError, match="external data"):
        _register(ws, adder(external("W", location)))
    with pytest.raises(UnsafeArtifactError, match="domain"):
        weights = helper.make_tensor("W", TensorProto.UINT8, [WIDTH], [1] * WIDTH)
        _register(ws, adder(weights, domain="com.evil"))


def test_a_version_registered_before_the_check_is_refused_at_load(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    from modelport.lifecycle import loading

    with monkeypatch.context() as patch:
        patch.setattr(OnnxFormat, "check", lambda self, data: None)
        _register(ws, adder(external("W", secret)))
    with pytest.raises(UnsafeArtifactError, match="external data"):
        loading.load("evil", ws=ws)


def test_an_ensemble_member_with_external_data_is_refused_at_register(
        ws: Workspace, secret: str) -> None:
    import zipfile as zf_module
    from io import BytesIO

    buf = BytesIO()
    with zf_module.ZipFile(buf, "w") as zf:
        zf.writestr("ensemble.json", '{"weights": [1, 1], "members": ['
                    '{"format": "onnx", "path": "member-0.onnx"},'
                    '{"format": "onnx", "path": "member-1.onnx"}]}')
        weights = helper.make_tensor("W", TensorProto.UINT8, [WIDTH], [1] * WIDTH)
        zf.writestr("member-0.onnx", adder(weights))
        zf.writestr("member-1.onnx", adder(external("W", secret)))
    from modelport.lifecycle.registry import register_artifact

    signature = Signature.infer(__import__("pandas").DataFrame(
        np.zeros((2, WIDTH)), columns=[f"f{i}" for i in range(WIDTH)]))
    with pytest.raises(UnsafeArtifactError, match="external data"):
        register_artifact("evil", "ensemble", buf.getvalue(), signature, ws=ws)
