"""An imported multi-input graph served over OIP v2 (JSON and binary tensors): answers
equal onnxruntime's on the same inputs, bad tensors are 422 naming them, and concurrent
requests are batched along the batch axis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from graphs import ITEMS, USERS, batched, reference, save, two_tower
from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.importing import import_onnx
from modelport.lifecycle.loading import load
from servers import Server, free_port, serving

pytest.importorskip("onnx")
MODEL = two_tower(seed=7)
GRPC_PORT = free_port()


@pytest.fixture(scope="module")
def recs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("tensors")
    ws = Workspace.open(Settings(home=root / "home"))
    path = save(MODEL, root / "recs.onnx", external=True)
    import_onnx(path, "recs", input_example={"user_id": [[1], [2]], "item_id": [[3], [4]]},
                ws=ws)
    forget_stores()
    with serving(root / "home", "--grpc-port", str(GRPC_PORT)) as srv:
        yield srv


def _ids(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"user_id": rng.integers(0, USERS, (n, 1)), "item_id": rng.integers(0, ITEMS, (n, 1))}


def test_metadata_lists_the_graph_inputs(recs_server: Server) -> None:
    with recs_server.client() as c:
        meta = c.get("/v2/models/recs").json()
    assert meta["platform"] == "onnx"
    assert meta["inputs"] == [{"name": "user_id", "datatype": "INT64", "shape": [-1, 1]},
                              {"name": "item_id", "datatype": "INT64", "shape": [-1, 1]}]
    assert meta["outputs"] == [{"name": "score", "datatype": "FP32", "shape": [-1, 1]}]


def test_json_infer_equals_onnxruntime(recs_server: Server) -> None:
    feeds = _ids(6, seed=1)
    body = {"id": "r1", "inputs": [
        {"name": k, "datatype": "INT64", "shape": list(v.shape), "data": v.ravel().tolist()}
        for k, v in feeds.items()]}
    with recs_server.client() as c:
        r = c.post("/v2/models/recs/infer", json=body)
    assert r.status_code == 200, r.text
    out, = r.json()["outputs"]
    assert out["name"] == "score" and out["shape"] == [6, 1] and out["datatype"] == "FP32"
    want = reference(MODEL, feeds)["score"]
    np.testing.assert_array_equal(np.array(out["data"], dtype=np.float32).reshape(6, 1), want)


def test_binary_infer_equals_onnxruntime(recs_server: Server) -> None:
    feeds = _ids(9, seed=2)
    feeds["item_id"] = feeds["item_id"].astype(np.int32)  # a narrower int is widened
    inputs, blobs = [], []
    for name, arr in feeds.items():
        blob = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        inputs.append({"name": name, "datatype": "INT64" if arr.dtype == np.int64 else "INT32",
                       "shape": list(arr.shape), "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    header = orjson.dumps({"inputs": inputs, "outputs": [
        {"name": "score", "parameters": {"binary_data": True}}]})
    with recs_server.client() as c:
        r = c.post("/v2/models/recs/infer", content=header + b"".join(blobs), headers={
            "inference-header-content-length": str(len(header)),
            "content-type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    out, = orjson.loads(r.content[:n])["outputs"]
    got = np.frombuffer(r.content[n:], dtype="<f4").reshape(out["shape"])
    want = reference(MODEL, {k: v.astype(np.int64) for k, v in feeds.items()})["score"]
    np.testing.assert_array_equal(got, want)
    assert out["parameters"]["binary_data_size"] == 4 * 9  # FP32 scores, one per row


def test_grpc_infer_equals_onnxruntime(recs_server: Server) -> None:
    """The same graph through tritonclient.grpc with its defaults (raw tensor contents)."""
    import tritonclient.grpc as triton
    from tritonclient.utils import InferenceServerException

    feeds = _ids(5, seed=3)
    client = triton.InferenceServerClient(f"127.0.0.1:{GRPC_PORT}")
    try:
        tensors = []
        for name, arr in feeds.items():
            tensor = triton.InferInput(name, list(arr.shape), "INT64")
            tensor.set_data_from_numpy(arr.astype(np.int64))
            tensors.append(tensor)
        result = client.infer("recs", tensors)
        np.testing.assert_array_equal(result.as_numpy("score"), reference(MODEL, feeds)["score"])
        wrong = triton.InferInput("user_id", [5, 1], "FP32")
        wrong.set_data_from_numpy(feeds["user_id"].astype(np.float32))
        with pytest.raises(InferenceServerException, match="input 'user_id' takes int64"):
            client.infer("recs", [wrong, tensors[1]])
    finally:
        client.close()


@pytest.mark.parametrize(("inputs", "message"), [
    ([{"name": "user_id", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
     "missing input 'item_id'"),
    ([{"name": "user_id", "datatype": "INT64", "shape": [2], "data": [1, 2]},
      {"name": "item_id", "datatype": "INT64", "shape": [2, 1], "data": [1, 2]}],
     "input 'user_id' needs 2 dimension"),
    ([{"name": "user_id", "datatype": "FP32", "shape": [1, 1], "data": [1.5]},
      {"name": "item_id", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
     "input 'user_id' takes int64, got float32"),
    ([{"name": "user_id", "datatype": "INT64", "shape": [1, 1], "data": [USERS + 1]},
      {"name": "item_id", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
     "the graph refused this input"),
    ([{"name": "user_id", "datatype": "BYTES", "shape": [1, 1], "data": ["x"]},
      {"name": "item_id", "datatype": "INT64", "shape": [1, 1], "data": [1]}],
     "input 'user_id' takes int64, got text"),
])
def test_bad_tensors_are_422_naming_them(recs_server: Server, inputs: list[dict[str, object]],
                                         message: str) -> None:
    with recs_server.client() as c:
        r = c.post("/v2/models/recs/infer", json={"inputs": inputs})
        assert r.status_code == 422, r.text
        assert message in r.json()["error"]
        assert c.get("/v2/health/ready").status_code == 200  # the server carries on


def test_concurrent_requests_are_joined_on_the_batch_axis(tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    import_onnx(save(MODEL, tmp_path / "recs.onnx"), "recs", ws=ws)
    predictor = load("recs", ws=ws)
    requests = [_ids(1 + i % 3, seed=i) for i in range(20)]
    results, calls = batched(predictor, requests)
    forget_stores()
    for feeds, got in zip(requests, results, strict=True):
        np.testing.assert_array_equal(got["score"], reference(MODEL, feeds)["score"])
    assert sum(calls) == sum(len(r["user_id"]) for r in requests) and len(calls) < 20
