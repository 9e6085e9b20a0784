"""A text classifier served to clients that send raw text — OIP BYTES (JSON and binary),
KServe v1 instances, MLflow /invocations — answering labels and scores equal to
onnxruntime on the same tokens; a text over the maximum is 422."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from graphs import (
    LABELS,
    batched,
    save,
    sentences,
    text_classifier,
    text_reference,
    word_piece,
)
from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.tensor_inputs import TensorBatch
from modelport.core.workspace import Workspace
from modelport.lifecycle.importing import import_onnx
from modelport.lifecycle.loading import load
from servers import Server, serving

pytest.importorskip("tokenizers")
MAX = 24
TEXTS = sentences(5, seed=11)


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, np.ndarray]]:
    root = tmp_path_factory.mktemp("text")
    tokenizer = word_piece(root / "tokenizer.json")
    model = text_classifier(80)
    (root / "labels.txt").write_text("\n".join(LABELS))
    ws = Workspace.open(Settings(home=root / "home"))
    import_onnx(save(model, root / "text.onnx"), "reviews", labels=root / "labels.txt",
                tokenizer=root / "tokenizer.json", max_length=MAX, too_long="refuse",
                input_example=["the plot was fine"], ws=ws)
    forget_stores()
    with serving(root / "home", "reviews") as srv:
        yield srv, text_reference(model, tokenizer, TEXTS)


def _check(proba: list[list[float]], labels: list[str], want: np.ndarray) -> None:
    np.testing.assert_allclose(np.array(proba), want, rtol=1e-6, atol=1e-7)
    assert labels == [LABELS[i] for i in want.argmax(axis=1)]


def test_oip_bytes_json(text_server: tuple[Server, np.ndarray]) -> None:
    server, want = text_server
    with server.client() as c:
        meta = c.get("/v2/models/reviews").json()
        assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        r = c.post("/v2/models/reviews/infer", json={"inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [len(TEXTS)], "data": TEXTS}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert out["prediction"]["datatype"] == "BYTES"
    _check(np.reshape(out["probabilities"]["data"], (len(TEXTS), -1)).tolist(),
           out["prediction"]["data"], want)


def test_oip_bytes_binary(text_server: tuple[Server, np.ndarray]) -> None:
    server, want = text_server
    blob = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in TEXTS)
    header = orjson.dumps({"inputs": [{"name": "text", "datatype": "BYTES",
                                       "shape": [len(TEXTS)],
                                       "parameters": {"binary_data_size": len(blob)}}]})
    with server.client() as c:
        r = c.post("/v2/models/reviews/infer", content=header + blob, headers={
            "inference-header-content-length": str(len(header))})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    _check(np.reshape(out["probabilities"]["data"], (len(TEXTS), -1)).tolist(),
           out["prediction"]["data"], want)


def test_kserve_v1_and_mlflow(text_server: tuple[Server, np.ndarray]) -> None:
    server, want = text_server
    with server.client() as c:
        r = c.post("/v1/models/reviews:predict", json={"instances": TEXTS})
        assert r.status_code == 200, r.text
        _check(r.json()["probabilities"], r.json()["predictions"], want)
        r = c.post("/invocations", json={"inputs": TEXTS})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [LABELS[i] for i in want.argmax(axis=1)]
        r = c.post("/invocations", json={"dataframe_split": {
            "columns": ["text"], "data": [[t] for t in TEXTS]}})
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [LABELS[i] for i in want.argmax(axis=1)]


def test_a_text_over_the_maximum_is_422(text_server: tuple[Server, np.ndarray]) -> None:
    server, _ = text_server
    with server.client() as c:
        r = c.post("/v1/models/reviews:predict",
                   json={"instances": ["good", " ".join(["movie"] * (MAX + 5))]})
        assert r.status_code == 422, r.text
        assert "text 1 has" in r.json()["error"] and f"maximum of {MAX}" in r.json()["error"]
        r = c.post("/v1/models/reviews:predict", json={"instances": [{"a": 1, "b": 2}]})
        assert r.status_code == 422, r.text
        r = c.post("/v1/models/reviews:predict", json={"instances": [7]})
        assert r.status_code == 422 and "must be a string" in r.json()["error"]


def test_texts_of_different_lengths_are_batched_padded_to_the_longest(tmp_path: Path
                                                                     ) -> None:
    tokenizer = word_piece(tmp_path / "tokenizer.json")
    model = text_classifier(80, seed=4)
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    import_onnx(save(model, tmp_path / "text.onnx"), "reviews", labels=LABELS,
                tokenizer=tmp_path / "tokenizer.json", ws=ws)
    predictor = load("reviews", ws=ws)
    requests = [sentences(1 + i % 2, seed=100 + i) for i in range(16)]
    results, calls = batched(predictor, requests)
    forget_stores()
    for texts, got in zip(requests, results, strict=True):
        np.testing.assert_allclose(got["probabilities"], text_reference(model, tokenizer, texts),
                                   rtol=1e-6, atol=1e-7)
    assert len(calls) < len(requests)  # joined, though their lengths differ
    assert len({predictor.matrix(r).arrays["input_ids"].shape[1] for r in requests}) > 1


def test_a_long_text_is_batched_apart_from_short_ones(tmp_path: Path) -> None:
    tokenizer = word_piece(tmp_path / "tokenizer.json")
    model = text_classifier(80, seed=5)
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    import_onnx(save(model, tmp_path / "text.onnx"), "reviews", labels=LABELS,
                tokenizer=tmp_path / "tokenizer.json", ws=ws)
    predictor = load("reviews", ws=ws)
    widths: list[tuple[int, int]] = []
    run = predictor.outputs_of_matrix

    def measured(x: TensorBatch) -> dict[str, np.ndarray]:
        widths.append((len(x), x.width))
        return run(x)

    predictor.outputs_of_matrix = measured  # type: ignore[method-assign]
    long = " ".join(["the movie was really very good"] * 10)
    requests = [["good movie"], [long], ["bad plot"], ["not sad"], [long, "fine"]]
    results, calls = batched(predictor, requests)
    forget_stores()
    for texts, got in zip(requests, results, strict=True):
        np.testing.assert_allclose(got["probabilities"], text_reference(model, tokenizer, texts),
                                   rtol=1e-6, atol=1e-7)
    assert len(calls) < len(requests)  # still batched
    # the long texts in one call of their own; no short text padded to their length
    assert [rows for rows, width in widths if width >= 60] == [3]
    assert all(width <= 8 for _, width in widths if width < 60), widths
