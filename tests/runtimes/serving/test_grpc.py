"""OIP over gRPC: ``modelport serve --grpc-port`` answering the official ``tritonclient.grpc``
with its defaults (raw tensors, async and streaming infer), the same answers as HTTP, and
hostile messages refused with the right status, never a crash."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException

from modelport.runtimes.serving.protocols.grpc_messages import SERVICE, TYPES
from servers import Server, free_port, serving

X = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)


@pytest.fixture(scope="module")
def grpc_server(model_home: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    with serving(model_home, "iris", "flowers", "--grpc-port", str(port),
                 "--max-body-mb", "0.0625") as server:
        yield server, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def client(grpc_server: tuple[Server, str]) -> Iterator[Any]:
    c = triton.InferenceServerClient(grpc_server[1])
    yield c
    c.close()


def _infer(client: Any, model: str = "iris", x: np.ndarray = X, **kwargs: Any) -> Any:
    tensor = triton.InferInput("input", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    return client.infer(model, [tensor], **kwargs)


def test_health_and_metadata(client: Any) -> None:
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.get_server_metadata().name == "modelport"
    meta = client.get_model_metadata("iris", as_json=True)
    assert meta["inputs"][0]["name"] == "input" and meta["inputs"][0]["shape"] == ["-1", "4"]
    assert {o["name"] for o in meta["outputs"]} >= {"prediction"}


def test_infer_matches_http(client: Any, grpc_server: tuple[Server, str]) -> None:
    result = _infer(client, request_id="req-7")
    assert result.get_response().id == "req-7"
    body = {"inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32",
                        "data": X.ravel().tolist()}]}
    with grpc_server[0].client() as http:
        doc = http.post("/v2/models/iris/infer", json=body).json()
    by_name = {o["name"]: o for o in doc["outputs"]}
    np.testing.assert_array_equal(result.as_numpy("prediction").ravel(),
                                  by_name["prediction"]["data"])
    np.testing.assert_allclose(result.as_numpy("probabilities").ravel(),
                               by_name["probabilities"]["data"], rtol=1e-6)
    # one output asked for, a pinned version
    only = _infer(client, outputs=[triton.InferRequestedOutput("prediction")], model_version="1")
    assert only.as_numpy("probabilities") is None
    assert only.get_response().model_version == "1"


def test_text_labels_come_back_as_bytes(client: Any) -> None:
    labels = _infer(client, "flowers").as_numpy("prediction")
    assert [v.decode() for v in labels.ravel()] == ["setosa", "virginica"]


def test_async_and_streaming_infer(client: Any) -> None:
    answers: queue.Queue[Any] = queue.Queue()
    tensor = triton.InferInput("input", [2, 4], "FP32")
    tensor.set_data_from_numpy(X)
    client.async_infer("iris", [tensor], callback=lambda result, error: answers.put(
        (result, error)))
    result, error = answers.get(timeout=10)
    assert error is None and result.as_numpy("prediction").shape[0] == 2

    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        client.async_stream_infer("iris", [tensor], request_id="s1")
        bad = triton.InferInput("input", [1, 3], "FP32")
        bad.set_data_from_numpy(X[:1, :3])
        client.async_stream_infer("iris", [bad], request_id="s2")
        client.async_stream_infer("iris", [tensor], request_id="s3")
        got = [answers.get(timeout=10) for _ in range(3)]
    finally:
        client.stop_stream()
    assert got[0][1] is None and got[0][0].get_response().id == "s1"
    assert got[1][0] is None and "4" in str(got[1][1])  # the error names the width
    assert got[2][1] is None  # an error does not end the stream


def test_typed_contents_are_read_as_well_as_raw(grpc_server: tuple[Server, str]) -> None:
    request = TYPES["ModelInferRequest"](model_name="iris")
    tensor = request.inputs.add(name="input", datatype="FP64", shape=[2, 4])
    tensor.contents.fp64_contents.extend(X.astype(np.float64).ravel().tolist())
    with grpc.insecure_channel(grpc_server[1]) as channel:
        response = _raw_call(channel, "ModelInfer", request, "ModelInferResponse")
    assert response.outputs[0].name == "prediction"
    assert len(response.raw_output_contents) == len(response.outputs)


def _raw_call(channel: Any, method: str, request: Any, answer: str, **kwargs: Any) -> Any:
    call = channel.unary_unary(f"/{SERVICE}/{method}",
                               request_serializer=type(request).SerializeToString,
                               response_deserializer=TYPES[answer].FromString)
    return call(request, timeout=10, **kwargs)


@pytest.mark.parametrize(("build", "code", "words"), [
    (lambda r: r.inputs.add(name="input", datatype="FP99", shape=[1, 4]),
     grpc.StatusCode.INVALID_ARGUMENT, "unknown datatype"),
    (lambda r: (r.inputs.add(name="input", datatype="FP32", shape=[1, 4]),
                r.raw_input_contents.append(b"\0" * 15)),
     grpc.StatusCode.INVALID_ARGUMENT, "needs 16 bytes"),
    (lambda r: (r.inputs.add(name="input", datatype="FP32", shape=[2**40, 2**40]),
                r.raw_input_contents.append(b"\0" * 16)),
     grpc.StatusCode.INVALID_ARGUMENT, "bytes"),
    (lambda r: (r.inputs.add(name="input", datatype="FP32", shape=[1, 4]),
                r.raw_input_contents.extend([b"\0" * 16, b"\0" * 16])),
     grpc.StatusCode.INVALID_ARGUMENT, "one per input"),
    (lambda r: r.inputs.add(name="input", datatype="FP32", shape=[1, 4, 1, 1, 1, 1, 1, 1, 1]),
     grpc.StatusCode.INVALID_ARGUMENT, "shape"),
    (lambda r: (r.inputs.add(name="input", datatype="INT8", shape=[1, 4]).contents
                .int_contents.extend([1, 2, 3, 999])),
     grpc.StatusCode.INVALID_ARGUMENT, "does not fit INT8"),
    (lambda r: r.outputs.add(name="secrets"), grpc.StatusCode.INVALID_ARGUMENT,
     "unknown output"),
    (lambda r: setattr(r, "model_version", "1²"), grpc.StatusCode.INVALID_ARGUMENT,
     "invalid model_version"),
    (lambda r: setattr(r, "model_name", "nope"), grpc.StatusCode.NOT_FOUND, "nope"),
    (lambda r: setattr(r, "id", "x" * 201), grpc.StatusCode.INVALID_ARGUMENT,
     "request id longer than 200"),
])
def test_hostile_requests_get_a_status_not_a_crash(grpc_server: tuple[Server, str], build: Any,
                                                  code: Any, words: str) -> None:
    request = TYPES["ModelInferRequest"](model_name="iris")
    build(request)
    if not request.inputs:
        request.inputs.add(name="input", datatype="FP32", shape=[1, 4]).contents \
            .fp32_contents.extend([1, 2, 3, 4])
    with grpc.insecure_channel(grpc_server[1]) as channel:
        with pytest.raises(grpc.RpcError) as err:
            _raw_call(channel, "ModelInfer", request, "ModelInferResponse")
        assert err.value.code() == code and words in err.value.details()
        # the server is still answering
        assert _raw_call(channel, "ServerLive", TYPES["ServerLiveRequest"](),
                         "ServerLiveResponse").live


def test_a_message_over_the_cap_is_refused_before_decoding(client: Any) -> None:
    big = np.zeros((3000, 4), dtype=np.float32)  # 48 KB of raw data...
    with pytest.raises(InferenceServerException, match=r"RESOURCE_EXHAUSTED|larger than max"):
        _infer(client, x=np.vstack([big, big]))  # ...twice: over --max-body-mb 0.0625


def test_keys_and_scopes_hold_over_grpc(tmp_path: Path, model_home: Path) -> None:
    import shutil

    from modelport.config import Settings
    from modelport.core.keys import create_key
    from modelport.core.store.engine import forget_stores
    from modelport.core.workspace import Workspace

    home = tmp_path / "home"  # a copy: keys in the shared workspace would turn auth on
    shutil.copytree(model_home, home)
    ws = Workspace.open(Settings(home=home))
    _, reader = create_key("grpc-reader", ["read"], ws=ws)
    _, predictor = create_key("grpc-predict", ["predict"], ws=ws)
    forget_stores()
    port = free_port()
    with serving(home, "iris", "--grpc-port", str(port), "--auth", "on"):
        c = triton.InferenceServerClient(f"127.0.0.1:{port}")
        try:
            assert c.is_server_live()  # health needs no key, as over HTTP
            with pytest.raises(InferenceServerException, match=r"UNAUTHENTICATED|API key"):
                _infer(c)
            with pytest.raises(InferenceServerException, match=r"PERMISSION_DENIED|may not"):
                _infer(c, headers={"authorization": f"Bearer {reader}"})
            ok = _infer(c, headers={"authorization": f"Bearer {predictor}"})
            assert ok.as_numpy("prediction").shape[0] == 2
            assert c.get_model_metadata("iris", headers={"x-api-key": reader}).name == "iris"
        finally:
            c.close()


def test_workers_share_the_grpc_port(model_home: Path) -> None:
    """--workers 2: each worker binds the port (SO_REUSEPORT) and answers on it."""
    port = free_port()
    with serving(model_home, "iris", "--workers", "2", "--grpc-port", str(port)):
        clients = [triton.InferenceServerClient(f"127.0.0.1:{port}") for _ in range(6)]
        try:  # a connection each: the kernel spreads them over the workers
            for c in clients:
                assert _infer(c).as_numpy("prediction").shape[0] == 2
        finally:
            for c in clients:
                c.close()
