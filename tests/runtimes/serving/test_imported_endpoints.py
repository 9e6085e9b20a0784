"""Endpoints and a canary rollout between two imported versions: every answer equal to
onnxruntime for the version that gave it (named in x-model-version), both versions
answering during the canary, the statistics the controller needs counted per version."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator

import httpx
import numpy as np
import orjson
import pytest

from graphs import (
    LABELS,
    encoder,
    reference,
    save,
    sentences,
    text_classifier,
    text_reference,
    two_tower,
    word_piece,
)
from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.control.controller import Controller
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import Policy, Route, create_endpoint, get_endpoint
from modelport.lifecycle.importing import import_onnx
from servers import Server, serving

pytest.importorskip("tokenizers")
USERS, ITEMS = np.array([[3], [7], [11]]), np.array([[5], [2], [60]])
TEXTS = sentences(4, seed=5)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict]]:
    root = tmp_path_factory.mktemp("endpoints")
    ws = Workspace.open(Settings(home=root / "home"))
    recs = [two_tower(seed=s) for s in (0, 1)]
    texts = [text_classifier(80, seed=s) for s in (5, 6)]
    tokenizer = word_piece(root / "tokenizer.json")
    for i in range(2):
        import_onnx(save(recs[i], root / f"recs{i}.onnx"), "recs", ws=ws)
        import_onnx(save(texts[i], root / f"text{i}.onnx"), "reviews", labels=LABELS,
                    tokenizer=root / "tokenizer.json", ws=ws)
    import_onnx(save(encoder(80), root / "enc.onnx"), "enc", tokenizer=root / "tokenizer.json",
                ws=ws)
    create_endpoint("recs-ep", "recs:1", ws=ws)
    create_endpoint("reviews-ep", "reviews:1", ws=ws)
    forget_stores()
    want = {f"recs:{i + 1}": reference(recs[i], {"user_id": USERS, "item_id": ITEMS})["score"]
            for i in range(2)}
    want.update({f"reviews:{i + 1}": text_reference(texts[i], tokenizer, TEXTS)
                 for i in range(2)})
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # the mean over real tokens only
    feeds = {"input_ids": np.array([e.ids for e in tokenizer.encode_batch(TEXTS)]),
             "attention_mask": np.array([e.attention_mask for e in tokenizer.encode_batch(TEXTS)])}
    hidden = reference(encoder(80), feeds)["last_hidden_state"]
    mask = feeds["attention_mask"][:, :, None]
    want["enc:1"] = (hidden * mask).sum(axis=1) / mask.sum(axis=1)
    with serving(root / "home") as srv:
        for name in ("recs-ep", "reviews-ep"):
            deadline = time.time() + 10
            while httpx.get(f"{srv.url}/v2/models/{name}/ready").status_code != 200:
                assert time.time() < deadline
                time.sleep(0.1)
        yield srv, want
    forget_stores()


def test_a_canary_between_two_imported_graphs_is_analysed_and_promoted(
        imported: tuple[Server, dict]) -> None:
    server, want = imported
    ws = Workspace.open(Settings(home=server.home))
    ro.start_canary("recs-ep", "recs:2", [50, 100], interval_s=0.1,
                    thresholds={"min_requests": 5, "max_shift": 10}, ws=ws)
    body = {"inputs": [{"name": "user_id", "datatype": "INT64", "shape": [3, 1],
                        "data": USERS.ravel().tolist()},
                       {"name": "item_id", "datatype": "INT64", "shape": [3, 1],
                        "data": ITEMS.ravel().tolist()}]}
    seen: Counter[str] = Counter()
    deadline = time.time() + 5
    with server.client() as c:
        while min(seen["recs:1"], seen["recs:2"]) < 10:  # the new weight lands within 1 s
            assert time.time() < deadline, seen
            r = c.post("/v2/models/recs-ep/infer", json=body)
            assert r.status_code == 200, r.text
            version = r.headers["x-model-version"]
            (out,) = r.json()["outputs"]
            assert out["name"] == "score"
            np.testing.assert_allclose(np.reshape(out["data"], (3, 1)), want[version],
                                       rtol=1e-6)
            seen[version] += 1
    time.sleep(1.5)  # statistics are published once a second
    Controller(ws).tick()
    (_, events), = ro.history("recs-ep", ws=ws)  # (the server's own controller ticks too)
    assert [e.action for e in events][:2] == ["start", "step"], events[-1].reason
    assert events[1].metrics["shift"] > 0  # measured on the graphs' own score output
    assert get_endpoint("recs-ep", ws=ws).policy.weight_of("recs:2") == 100
    forget_stores()


def test_text_endpoint_answers_labels_of_the_version_it_routed_to(
        imported: tuple[Server, dict]) -> None:
    server, want = imported
    ws = Workspace.open(Settings(home=server.home))
    from modelport.lifecycle.endpoints import set_policy

    set_policy("reviews-ep", Policy([Route("reviews:1", 50), Route("reviews:2", 50)]), ws=ws)
    forget_stores()
    seen: Counter[str] = Counter()
    deadline = time.time() + 5
    with server.client() as c:
        while min(seen["reviews:1"], seen["reviews:2"]) < 5:
            assert time.time() < deadline, seen
            r = c.post("/v1/models/reviews-ep:predict", json={"instances": TEXTS})
            assert r.status_code == 200, r.text
            version = r.headers["x-model-version"]
            np.testing.assert_allclose(r.json()["probabilities"], want[version], rtol=1e-6,
                                       atol=1e-7)
            assert r.json()["predictions"] == [LABELS[i] for i in want[version].argmax(axis=1)]
            seen[version] += 1


def test_kserve_v1_and_mlflow_answer_a_graphs_own_prediction_output(
        imported: tuple[Server, dict]) -> None:
    server, want = imported
    rows = [{"user_id": [int(u)], "item_id": [int(i)]}
            for u, i in zip(USERS.ravel(), ITEMS.ravel(), strict=True)]
    with server.client() as c:
        r = c.post("/v1/models/recs:predict", json={"instances": rows})
        assert r.status_code == 200, r.text
        version = r.headers["x-model-version"]
        np.testing.assert_allclose(np.ravel(r.json()["predictions"]), want[version].ravel(),
                                   rtol=1e-6)
    from modelport.runtimes.serving.protocols import mlflow  # one model per server

    scores = np.array([[0.25], [0.5]], dtype=np.float32)
    assert orjson.loads(mlflow.render({"score": scores, "other": -scores}).body) == {
        "predictions": [0.25, 0.5]}  # a [rows, 1] output: one value per row


def test_an_encoder_answers_one_mean_pooled_embedding_per_text(
        imported: tuple[Server, dict]) -> None:
    server, want = imported
    with server.client() as c:
        r = c.post("/v1/models/enc:predict", json={"instances": TEXTS})
        assert r.status_code == 200, r.text
        np.testing.assert_allclose(r.json()["predictions"], want["enc:1"], rtol=1e-5, atol=1e-6)
        r = c.post("/v2/models/enc/infer", json={"inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [len(TEXTS)], "data": TEXTS}]})
    (out,) = r.json()["outputs"]
    assert out["name"] == "embedding" and out["shape"] == [len(TEXTS), 8]
    np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), want["enc:1"], rtol=1e-5,
                               atol=1e-6)
