"""Text (category) columns and missing values through every protocol of a real server,
and an ensemble served like any model."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from frames import mixed_frame
from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from servers import Server, serving, start_server, stop_server

FRAME = mixed_frame()
X = FRAME.drop(columns="target")
ROWS = X.head(4).copy()
ROWS.loc[1, "grade"] = "never-seen"
ROWS.loc[2, "mean radius"] = np.nan  # the model imputes: accepted
RECORDS = json.loads(ROWS.to_json(orient="records"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelport.core.formats.ensemble import Ensemble
    from modelport.lifecycle.automl import make_estimator
    from modelport.lifecycle.preprocessing import Features, encode
    from modelport.lifecycle.registry import register_model
    from modelport.lifecycle.train import train

    home = tmp_path_factory.mktemp("categories") / "home"
    ws = Workspace.open(Settings(home=home))
    data = home.parent / "mixed.csv"
    FRAME.to_csv(data, index=False)
    train(str(data), "target", "logistic_regression", name="mixed", ws=ws)
    Xm, signature = encode(X)
    features = Features.of(signature, Xm)
    members = [make_estimator(f, "classification", {}, 0, features=features).fit(
        Xm, FRAME["target"]) for f in ("linear", "lightgbm")]
    register_model("voted", Ensemble(members), X=X, ws=ws)
    forget_stores()
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    with serving(home) as srv:
        yield srv


@pytest.fixture(scope="module")
def expected(home: Path) -> dict[str, np.ndarray]:
    from modelport.lifecycle.loading import load

    ws = Workspace.open(Settings(home=home))
    try:
        return {name: load(name, ws=ws).predict_proba(ROWS)[:, 1] for name in ("mixed", "voted")}
    finally:
        forget_stores()


def _columns() -> list[dict]:
    return [{"name": c, "shape": [len(ROWS)],
             "datatype": "BYTES" if ROWS[c].dtype.kind == "O" else "FP64",
             "data": [None if v != v else v for v in ROWS[c].tolist()]} for c in ROWS.columns]


def test_metadata_lists_one_tensor_per_column(server: Server) -> None:
    with server.client() as c:
        meta = c.get("/v2/models/mixed").json()
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert inputs["grade"] == {"name": "grade", "datatype": "BYTES", "shape": [-1]}
    assert inputs["mean radius"]["datatype"] == "FP64" and meta["platform"] == "sklearn"


@pytest.mark.parametrize("model", ["mixed", "voted"])
def test_oip_json_bytes_tensors(server: Server, expected: dict, model: str) -> None:
    with server.client() as c:
        r = c.post(f"/v2/models/{model}/infer", json={"inputs": _columns()})
    assert r.status_code == 200, r.text
    outputs = {o["name"]: o for o in r.json()["outputs"]}
    proba = np.asarray(outputs["probabilities"]["data"]).reshape(-1, 2)[:, 1]
    np.testing.assert_allclose(proba, expected[model], atol=1e-9)


def test_oip_binary_bytes_tensors(server: Server, expected: dict) -> None:
    """As tritonclient sends them: BYTES as 4-byte length + bytes, numbers raw."""
    header: dict = {"inputs": []}
    blobs = []
    for col in ROWS.columns:
        if ROWS[col].dtype.kind == "O":
            blob = b"".join(struct.pack("<I", len(s)) + s for s in
                            (str(v).encode() if v is not None else b"" for v in ROWS[col]))
            datatype = "BYTES"
        else:
            blob = ROWS[col].to_numpy(np.float64).tobytes()
            datatype = "FP64"
        header["inputs"].append({"name": col, "shape": [len(ROWS)], "datatype": datatype,
                                 "parameters": {"binary_data_size": len(blob)}})
        blobs.append(blob)
    head = json.dumps(header).encode()
    with server.client() as c:
        r = c.post("/v2/models/mixed/infer", content=head + b"".join(blobs),
                   headers={"Inference-Header-Content-Length": str(len(head)),
                            "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    proba = np.asarray({o["name"]: o for o in r.json()["outputs"]}["probabilities"]["data"])
    # a missing grade sent as b"" is an unseen category here, not a missing one
    ok = [i for i, v in enumerate(ROWS["grade"]) if v is not None]
    np.testing.assert_allclose(proba.reshape(-1, 2)[ok, 1], expected["mixed"][ok], atol=1e-9)


@pytest.mark.parametrize("model", ["mixed", "voted"])
def test_kserve_v1_instances_as_objects_and_lists(server: Server, expected: dict,
                                                  model: str) -> None:
    lists = [[None if v != v else v for v in row] for row in ROWS.itertuples(index=False)]
    with server.client() as c:
        for instances in (RECORDS, lists):
            r = c.post(f"/v1/models/{model}:predict", json={"instances": instances})
            assert r.status_code == 200, r.text
            proba = np.asarray(r.json()["probabilities"])[:, 1]
            np.testing.assert_allclose(proba, expected[model], atol=1e-9)


@pytest.mark.parametrize("model", ["mixed", "voted"])
def test_mlflow_split_records_and_csv(home: Path, expected: dict, model: str) -> None:
    labels = (expected[model] > 0.5).astype(int).tolist()
    split = json.loads(ROWS.to_json(orient="split", index=False))
    csv = io.StringIO()
    ROWS.to_csv(csv, index=False)
    srv = start_server(home, model)  # /invocations has no model name: one model per server
    try:
        with srv.client() as c:
            for body in ({"dataframe_split": split}, {"dataframe_records": RECORDS}):
                r = c.post("/invocations", json=body)
                assert r.status_code == 200, r.text
                assert r.json()["predictions"] == labels
            r = c.post("/invocations", content=csv.getvalue(),
                       headers={"Content-Type": "text/csv"})
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == labels
    finally:
        stop_server(srv)


def test_text_in_a_numeric_column_is_a_422(server: Server) -> None:
    bad = [dict(RECORDS[0], **{"mean radius": "big"})]
    with server.client() as c:
        r = c.post("/v1/models/mixed:predict", json={"instances": bad})
    assert r.status_code == 422
    assert "column 'mean radius' expects float values, got 'big'" in r.json()["error"]
