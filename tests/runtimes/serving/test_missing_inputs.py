"""Missing and infinite values on every protocol: an answer from a model that imputes, a
422 naming the column from one that cannot — never a 200 with a made-up label.

``flowers`` is a bare LogisticRegression registered by hand (it cannot take NaN);
``iris`` (its champion an ONNX copy) was trained, so it imputes.
Every protocol goes through the signature check, which decides.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from modelport.lifecycle.datasets import load_dataset

X = load_dataset("sklearn:iris").frame.drop(columns="target")
ROW = X.head(1).to_numpy().tolist()[0]
HOLE = [None, *ROW[1:]]  # sepal length missing
FIRST = "sepal length (cm)"


def test_kserve_v1_null(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        r = c.post("/v1/models/flowers:predict", json={"instances": [ROW, HOLE]})
        assert r.status_code == 422, r.text
        assert f"column '{FIRST}' has a missing value" in r.json()["error"]
        records = [dict(zip(X.columns, HOLE, strict=True))]
        r = c.post("/v1/models/flowers:predict", json={"instances": records})
        assert r.status_code == 422 and FIRST in r.json()["error"]
        ok = c.post("/v1/models/iris:predict", json={"instances": [HOLE]})  # it imputes
        assert ok.status_code == 200, ok.text
        assert ok.json()["predictions"] == [0]


def test_oip_json_null_and_nan(server) -> None:  # type: ignore[no-untyped-def]
    def body(value: object, datatype: str = "FP64") -> bytes:
        return json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": datatype,
                                       "data": [value, *ROW[1:]]}]}).encode()

    with server.client() as c:
        for value in (None, float("nan")):  # null, and Python's NaN literal
            r = c.post("/v2/models/flowers/infer", content=body(value),
                       headers={"content-type": "application/json"})
            assert 400 <= r.status_code < 500 and r.status_code != 200, r.text
            if value is None:
                assert r.status_code == 422 and FIRST in r.json()["error"]
        ok = c.post("/v2/models/iris/infer", content=body(None),
                    headers={"content-type": "application/json"})
        assert ok.status_code == 200, ok.text


def test_fp32_overflow_and_infinity_are_refused_everywhere(server) -> None:  # type: ignore
    with server.client() as c:
        for name in ("iris", "flowers"):  # iris's champion is ONNX: float32 input
            r = c.post(f"/v2/models/{name}/infer", json={"inputs": [
                {"name": "input", "shape": [1, 4], "datatype": "FP32",
                 "data": [1e39, *ROW[1:]]}]})
            assert r.status_code == 422, r.text
            assert f"column '{FIRST}' has an infinite value" in r.json()["error"]


def test_oip_binary_fp32_nan_and_inf(server) -> None:  # type: ignore[no-untyped-def]
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.host_port)
    try:
        rows = np.array([ROW, ROW], dtype=np.float32)
        rows[1, 2] = np.nan
        tensor = triton.InferInput("input", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows)
        with pytest.raises(triton.InferenceServerException,
                           match=r"'petal length \(cm\)' has a missing value .* in row 1"):
            client.infer("flowers", [tensor])
        assert client.infer("iris", [tensor]).as_numpy("prediction").tolist() == [0, 0]
        rows[1, 2] = np.inf
        tensor.set_data_from_numpy(rows)
        for name in ("iris", "flowers"):
            with pytest.raises(triton.InferenceServerException, match="infinite value"):
                client.infer(name, [tensor])
    finally:
        client.close()
