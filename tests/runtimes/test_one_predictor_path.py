"""One model through every path — predict, serve (OIP v2, KServe v1, MLflow), batch,
stream over a real broker, an edge bundle — gives the same answers: the labels exactly,
the probabilities within the ONNX parity tolerance. Each path loads the copy
``lifecycle.loading.artifact_for`` chooses under the one default runtime."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from modelport.config import DEFAULT_RUNTIME
from modelport.core.workspace import Workspace
from servers import serving

pytest.importorskip("skl2onnx")
REDIS = "redis://127.0.0.1:6379"
ATOL = 1e-4  # ONNX parity: what registration checked the copy against


def _rows() -> pd.DataFrame:
    from modelport.lifecycle.datasets import load_dataset

    frame = load_dataset("sklearn:iris").frame.drop(columns="target")
    return frame.iloc[::10].reset_index(drop=True)  # 15 rows, every class


def _redis_up(request: pytest.FixtureRequest) -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError as exc:
        root = Path(__file__).parents[1] / "conftest.py"
        request.config.pluginmanager.get_plugin(str(root))._require_service(
            "redis", f"nothing answers at {REDIS} ({exc.strerror or exc})")


def _served(home: Path, rows: pd.DataFrame) -> dict[str, tuple[list[Any], Any]]:
    records = rows.to_dict(orient="records")
    with serving(home, "iris") as server, server.client() as client:
        v2 = client.post("/v2/models/iris/infer", json={"inputs": [
            {"name": "input", "shape": list(rows.shape), "datatype": "FP64",
             "data": rows.to_numpy().ravel().tolist()}]})
        v1 = client.post("/v1/models/iris:predict", json={"instances": records})
        mlflow = client.post("/invocations", json={"dataframe_records": records})
    for response in (v2, v1, mlflow):
        assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in v2.json()["outputs"]}
    proba = np.reshape(outputs["probabilities"]["data"], outputs["probabilities"]["shape"])
    return {"serve oip": (outputs["prediction"]["data"], proba),
            "serve kserve v1": (v1.json()["predictions"], v1.json()["probabilities"]),
            "serve mlflow": (mlflow.json()["predictions"], None)}


def _batch(rows: pd.DataFrame, tmp_path: Path, ws: Workspace) -> tuple[list[Any], Any]:
    from modelport.runtimes.batch.job import predict_job

    rows.to_parquet(tmp_path / "in.parquet")
    predict_job("iris", str(tmp_path / "in.parquet"), str(tmp_path / "out"), ws=ws)
    out = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "out").rglob("*.parquet")))
    return out["prediction"].tolist(), out[[f"proba_{c}" for c in (0, 1, 2)]].to_numpy()


def _stream(rows: pd.DataFrame, ws: Workspace) -> tuple[list[Any], Any]:
    from modelport.runtimes.stream import brokers
    from modelport.runtimes.stream.runner import StreamConfig, StreamRunner

    tag = uuid.uuid4().hex[:12]
    events, preds = f"{REDIS}/mp-path-{tag}-events", f"{REDIS}/mp-path-{tag}-preds"
    try:
        with brokers.open_sink(events) as sink:
            sink.publish([orjson.dumps({"id": f"e{i}", "features": row})
                          for i, row in enumerate(rows.to_dict(orient="records"))])
        StreamRunner("iris", StreamConfig(source=events, sink=preds, group="g"),
                     ws=ws).run(max_events=len(rows))
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        with brokers.open_source(preds, "reader", "r1") as source:
            while len(got) < len(rows) and time.monotonic() < deadline:
                got += [orjson.loads(m.data) for m in source.read(100, 0.2)]
    finally:
        for url in (events, preds, brokers.dead_letter_url(events)):
            brokers.delete(url)
    got.sort(key=lambda d: int(d["id"][1:]))
    return [d["prediction"] for d in got], np.array([d["probabilities"] for d in got])


def _edge(rows: pd.DataFrame, ws: Workspace) -> tuple[list[Any], Any]:
    from modelport.runtimes.edge.export import build_bundle
    from modelport.runtimes.edge.signing import create_signing_key, load_private
    from modelport_edge.bundle import read_bundle
    from modelport_edge.runtime import EdgeModel
    from modelport_edge.trust import Trust

    create_signing_key("paths")
    bundle = build_bundle("iris", key="paths", ws=ws)
    model = EdgeModel(read_bundle(bundle.data, Trust([load_private("paths").public_key()])))
    out = model.predict(rows.to_dict(orient="records"))
    return out["prediction"].tolist(), out["probabilities"]


@pytest.mark.storage_independent
def test_one_model_gives_the_same_answers_on_every_path(
        env_ws: Workspace, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.loading import add_onnx_copy, load
    from modelport.lifecycle.registry import register_model

    _redis_up(request)
    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    registered = register_model("iris", LogisticRegression(max_iter=500).fit(X, y), X=X,
                                ws=env_ws)
    version = add_onnx_copy(registered.ref, ws=env_ws)
    assert version.onnx_ready  # the default runtime has an ONNX copy to choose
    rows = _rows()
    native = load("iris", runtime="native", ws=env_ws).predict_outputs(rows)
    predicted = load("iris", ws=env_ws)  # the default: what every other path loads
    assert DEFAULT_RUNTIME == "auto" and predicted.runtime == "onnx"
    default = predicted.predict_outputs(rows)
    answers: dict[str, tuple[list[Any], Any]] = {
        "predict": (default["prediction"].tolist(), default["probabilities"]),
        **_served(env_ws.settings.home, rows),
        "batch": _batch(rows, tmp_path, env_ws),
        "stream": _stream(rows, env_ws),
        "edge": _edge(rows, env_ws),
    }
    want = native["prediction"].tolist()
    assert len(set(want)) == 3  # the rows reach every class: agreement means something
    for path, (labels, proba) in answers.items():
        assert [int(v) for v in labels] == want, path
        if proba is not None:
            assert np.allclose(np.asarray(proba, dtype=float), native["probabilities"],
                               atol=ATOL), path
