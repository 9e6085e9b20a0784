"""Each protocol against a real server process, as its own clients speak it."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.lifecycle.datasets import load_dataset

IRIS = load_dataset("sklearn:iris").frame
X = IRIS.drop(columns="target")
ROWS = X.head(3).to_numpy().tolist()


def test_health_and_server_metadata(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        assert c.get("/v2/health/live").json() == {"live": True}
        assert c.get("/v2/health/ready").json() == {"ready": True}
        meta = c.get("/v2").json()
        assert meta["name"] == "modelport" and "binary_tensor_data" in meta["extensions"]
        assert c.get("/ping").status_code == 200 and c.get("/health").status_code == 200
        assert c.get("/version").text


def test_model_metadata_follows_the_alias(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        meta = c.get("/v2/models/iris").json()
        assert meta["versions"] == ["1"] and meta["platform"] == "onnx"  # champion, ONNX copy
        assert meta["inputs"][0]["shape"] == [-1, 4]
        assert meta["inputs"][0]["parameters"]["columns"] == list(X.columns)
        assert {o["name"] for o in meta["outputs"]} == {"prediction", "probabilities"}
        pinned = c.get("/v2/models/iris/versions/2").json()
        assert pinned["versions"] == ["2"] and pinned["platform"] == "sklearn"
        assert c.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
        assert c.get("/v1/models/iris").json() == {"name": "iris", "ready": True}


def test_oip_json_infer_2d_and_per_column(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        r = c.post("/v2/models/iris/infer", json={
            "id": "abc", "inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64",
                                     "data": ROWS}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["id"] == "abc" and body["model_name"] == "iris"
        assert body["model_version"] == "1" and r.headers["x-model-version"] == "iris:1"
        outputs = {o["name"]: o for o in body["outputs"]}
        assert outputs["prediction"]["data"] == [0, 0, 0]
        assert outputs["prediction"]["datatype"] == "INT64"
        assert outputs["probabilities"]["shape"] == [3, 3]
        per_column = c.post("/v2/models/iris/versions/2/infer", json={"inputs": [
            {"name": col, "shape": [3], "datatype": "FP32", "data": X[col].head(3).tolist()}
            for col in reversed(X.columns)]})
        assert per_column.status_code == 200, per_column.text
        assert per_column.headers["x-model-version"] == "iris:2"
        assert per_column.json()["outputs"][0]["data"] == [0, 0, 0]


def test_oip_requested_outputs_and_text_labels(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        body = c.post("/v2/models/flowers/infer", json={
            "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": ROWS[0]}],
            "outputs": [{"name": "prediction"}]}).json()
        assert body["outputs"] == [{"name": "prediction", "datatype": "BYTES", "shape": [1],
                                    "data": ["setosa"]}]
        reg = c.post("/v2/models/diabetes/infer", json={"inputs": [
            {"name": "input", "shape": [2, 10], "datatype": "FP64", "data": [0.01] * 20}]}).json()
        assert [o["name"] for o in reg["outputs"]] == ["prediction"]
        assert reg["outputs"][0]["datatype"] == "FP64"


def test_tritonclient_with_its_defaults(server) -> None:  # type: ignore[no-untyped-def]
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.host_port)
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("iris")
    assert client.get_model_metadata("iris")["inputs"][0]["shape"] == [-1, 4]
    rows = X.to_numpy(dtype=np.float32)
    tensor = triton.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)  # binary by default, and binary outputs asked for
    result = client.infer("iris", [tensor])
    labels = result.as_numpy("prediction")
    assert labels.shape == (150,) and (labels == IRIS["target"].to_numpy()).mean() > 0.9
    assert result.as_numpy("probabilities").shape == (150, 3)
    text = client.infer("flowers", [tensor], outputs=[triton.InferRequestedOutput("prediction")])
    assert text.as_numpy("prediction")[0] == b"setosa"
    wide = triton.InferInput("input", [1, 3], "FP32")
    wide.set_data_from_numpy(np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(triton.InferenceServerException, match="expected 4 columns"):
        client.infer("iris", [wide])
    client.close()


def test_kserve_v1(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        rows = c.post("/v1/models/iris:predict", json={"instances": ROWS}).json()
        assert rows["predictions"] == [0, 0, 0] and len(rows["probabilities"]) == 3
        records = X.head(2).to_dict(orient="records")
        assert c.post("/v1/models/iris:predict",
                      json={"instances": records}).json()["predictions"] == [0, 0]


def test_mlflow_scoring_protocol_needs_one_model(server) -> None:  # type: ignore
    with server.client() as c:
        r = c.post("/invocations", json={"inputs": ROWS})
        assert r.status_code == 400 and "exactly one served model" in r.json()["error"]


@pytest.fixture(scope="module")
def single(model_home):  # type: ignore[no-untyped-def]
    from servers import start_server, stop_server

    srv = start_server(model_home, "iris@champion")
    yield srv
    stop_server(srv)


def test_mlflow_scoring_protocol(single) -> None:  # type: ignore[no-untyped-def]
    cols = list(X.columns)
    with single.client() as c:
        bodies = [
            {"dataframe_split": {"columns": cols, "data": ROWS}},
            {"dataframe_records": X.head(3).to_dict(orient="records")},
            {"instances": ROWS},
            {"inputs": ROWS},
            {"inputs": {c: X[c].head(3).tolist() for c in cols}},
        ]
        for body in bodies:
            r = c.post("/invocations", json=body)
            assert r.status_code == 200, (body, r.text)
            assert r.json() == {"predictions": [0, 0, 0]}
        csv = X.head(3).to_csv(index=False)
        r = c.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        assert r.json() == {"predictions": [0, 0, 0]}
        r = c.post("/invocations", json={"inputs": ROWS, "instances": ROWS})
        assert r.status_code == 400 and "exactly one of" in r.json()["error"]


def test_kserve_v1_lists_models_answers_liveness_and_reads_columns(server) -> None:  # type: ignore
    cols = list(X.columns)
    with server.client() as c:
        listed = c.get("/v1/models")
        assert listed.status_code == 200
        assert {"iris", "diabetes", "flowers"} <= set(listed.json()["models"])
        assert c.get("/").json() == {"status": "alive"}  # kserve's is_server_live
        columnar = {"inputs": {name: X[name].head(3).tolist() for name in cols}}  # TF Serving
        r = c.post("/v1/models/iris:predict", json=columnar)
        assert r.status_code == 200 and r.json()["predictions"] == [0, 0, 0], r.text
        one = {"inputs": {name: float(X[name].iloc[0]) for name in cols}}  # a lone row
        assert c.post("/v1/models/iris:predict", json=one).json()["predictions"] == [0]
        ragged = {"inputs": {**columnar["inputs"], cols[0]: [[1.0], 2.0, 3.0]}}
        r = c.post("/v1/models/iris:predict", json=ragged)
        assert r.status_code == 422 and repr(cols[0]) in r.json()["error"]


def test_every_405_names_the_allowed_methods(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        for method, path, allowed in [
            ("GET", "/v2/models/iris/infer", "POST"), ("POST", "/v2/models/iris", "GET"),
            ("PUT", "/v1/models/iris:predict", "POST"), ("POST", "/v1/models", "GET"),
            ("GET", "/invocations", "POST"), ("POST", "/metrics", "GET"),
            ("DELETE", "/v2/health/live", "GET"), ("POST", "/", "GET"),
            ("POST", "/version", "GET"),
        ]:
            r = c.request(method, path)
            assert r.status_code == 405 and r.headers["allow"] == allowed, (method, path)


def test_mlflow_errors_are_mlflow_shaped(single) -> None:  # type: ignore[no-untyped-def]
    """MLflow's client reads error_code and message; modelport's own 'error' stays too."""
    with single.client() as c:
        r = c.post("/invocations", content=b"a;b", headers={"content-type": "text/plain"})
        assert r.status_code == 415
        assert r.json()["error_code"] == "BAD_REQUEST" and "text/plain" in r.json()["message"]
        r = c.post("/invocations", json={"rows": []})
        assert r.status_code == 400 and r.json()["error_code"] == "BAD_REQUEST"
        assert r.json()["message"] == r.json()["error"]
        r = c.post("/invocations", json={"inputs": {"sepal length (cm)": [[1], 2]}})
        assert r.status_code == 422 and r.json()["error_code"] == "BAD_REQUEST"
        r = c.get("/invocations")
        assert r.status_code == 405 and r.json()["error_code"] == "BAD_REQUEST"
