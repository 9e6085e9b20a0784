"""models import --torch end to end, with torch from the machine's wheel: a text classifier
trained here on generated text with a WordPiece tokenizer trained on the same text, and a
two-tower recommender on id inputs — each exported by torch.onnx.export, imported, served,
and answering over OIP exactly what onnxruntime answers on the exported graph (and what
torch answers, within float tolerance).

Not in the CI suite: installing torch costs more than the suite's budget for it (see
benchmarks/dl/README); run it with
``PYTHONPATH=src:edge/src python -m pytest -n 0 benchmarks/dl/test_torch_import.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

import torch_models  # noqa: E402 — after the skip: it imports torch

from modelport.core.store.engine import forget_stores  # noqa: E402
from modelport.interfaces.cli.main import app  # noqa: E402
from servers import Server, serving  # noqa: E402

GOOD, BAD, FILL = ["good", "great", "happy", "fine"], ["bad", "awful", "sad", "poor"], \
    ["the", "movie", "was", "very", "plot", "actors", "really"]
LABELS = ["negative", "neutral", "positive"]


def corpus(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Sentences whose label is whether good or bad words are in the majority."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        good, bad = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        words = list(rng.choice(GOOD, good)) + list(rng.choice(BAD, bad)) + \
            list(rng.choice(FILL, int(rng.integers(1, 6))))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(0 if bad > good else 2 if good > bad else 1)
    return texts, np.array(labels)


def tokenize(tokenizer, texts: list[str]) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    encodings = tokenizer.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}


def train_text(root: Path) -> tuple[object, float]:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    texts, y = corpus(800, seed=0)
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=torch_models.VOCAB, special_tokens=["[PAD]", "[UNK]"]))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.save(str(root / "tokenizer.json"))
    torch.manual_seed(0)
    model = torch_models.TextClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    feeds = {k: torch.from_numpy(v) for k, v in tokenize(tokenizer, texts).items()}
    target = torch.from_numpy(y)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(**feeds), target)
        loss.backward()
        optimizer.step()
    held, held_y = corpus(200, seed=1)
    with torch.no_grad():
        logits = model(**{k: torch.from_numpy(v) for k, v in tokenize(tokenizer, held).items()})
    torch.save(model.state_dict(), root / "text.pt")
    return tokenizer, float((logits.argmax(1).numpy() == held_y).mean())


def train_two_tower(root: Path) -> None:
    rng = np.random.default_rng(2)
    users = rng.integers(0, torch_models.USERS, 2000)
    items = rng.integers(0, torch_models.ITEMS, 2000)
    liked = ((users % 3) == (items % 3)).astype(np.float32)  # taste: a shared residue
    torch.manual_seed(0)
    model = torch_models.TwoTower()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    u, i = torch.from_numpy(users[:, None]), torch.from_numpy(items[:, None])
    for _ in range(100):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(u, i)[:, 0],
                                                        torch.from_numpy(liked))
        loss.backward()
        optimizer.step()
    torch.save(model.state_dict(), root / "two_tower.pt")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, object]]:
    root = tmp_path_factory.mktemp("torch")
    tokenizer, accuracy = train_text(root)
    assert accuracy > 0.85  # it learned the rule, not noise
    train_two_tower(root)
    (root / "labels.txt").write_text("\n".join(LABELS))
    (root / "text_example.json").write_text(json.dumps(
        {k: v.tolist() for k, v in tokenize(tokenizer, ["good movie", "bad plot"]).items()}))
    (root / "texts.json").write_text(json.dumps(["the plot was good"]))
    (root / "ids.json").write_text(json.dumps({"user_id": [[1], [2]], "item_id": [[3], [4]]}))
    env = {"MODELPORT_HOME": str(root / "home"), "TORCH_MODELS_DIR": str(root)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("MODELPORT_DB_URL", raising=False)
        runner = CliRunner()
        for args in (
                ["models", "import", str(root / "reviews.onnx"), "--name", "reviews",
                 "--torch", "torch_models:build_text", "--example",
                 str(root / "text_example.json"), "--outputs", "logits",
                 "--tokenizer", str(root / "tokenizer.json"), "--labels",
                 str(root / "labels.txt"), "--input-example", str(root / "texts.json")],
                ["models", "import", str(root / "recs.onnx"), "--name", "recs", "--torch",
                 "torch_models:build_two_tower", "--example", str(root / "ids.json"),
                 "--outputs", "score", "--input-example", str(root / "ids.json")]):
            result = runner.invoke(app, args)
            assert result.exit_code == 0, result.output
    forget_stores()
    with serving(root / "home") as srv:
        yield srv, root, tokenizer


def _onnxruntime(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feeds)[0])


def test_the_text_classifier_answers_raw_text_as_onnxruntime_and_torch_do(
        imported: tuple[Server, Path, object]) -> None:
    server, root, tokenizer = imported
    texts, _ = corpus(24, seed=7)
    with server.client() as c:
        r = c.post("/v2/models/reviews/infer", json={"inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]})
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    proba = np.reshape(out["probabilities"]["data"], (len(texts), -1))
    feeds = tokenize(tokenizer, texts)
    logits = _onnxruntime(root / "reviews.onnx", feeds).astype(np.float64)
    want = np.exp(logits - logits.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(proba, want, rtol=1e-6, atol=1e-7)
    assert out["prediction"]["data"] == [LABELS[i] for i in want.argmax(1)]
    model = torch_models.TextClassifier()
    model.load_state_dict(torch.load(root / "text.pt", weights_only=True))
    model.eval()
    with torch.no_grad():
        ours = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).softmax(1).numpy()
    np.testing.assert_allclose(proba, ours, atol=1e-5)


def test_the_two_tower_recommender_answers_ids_as_onnxruntime_does(
        imported: tuple[Server, Path, object]) -> None:
    server, root, _ = imported
    users = np.array([[0], [5], [17], [39]], dtype=np.int64)
    items = np.array([[59], [5], [2], [0]], dtype=np.int64)
    with server.client() as c:
        r = c.post("/v2/models/recs/infer", json={"inputs": [
            {"name": "user_id", "datatype": "INT64", "shape": [4, 1],
             "data": users.ravel().tolist()},
            {"name": "item_id", "datatype": "INT64", "shape": [4, 1],
             "data": items.ravel().tolist()}]})
    assert r.status_code == 200, r.text
    (out,) = r.json()["outputs"]
    want = _onnxruntime(root / "recs.onnx", {"user_id": users, "item_id": items})
    np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), want, rtol=1e-6)


@pytest.mark.parametrize(("factory", "example", "message"), [
    ("torch_models", {"input_ids": [[1]]}, "takes MODULE:FACTORY"),
    ("no_such_module:build", {"input_ids": [[1]]}, "cannot import no_such_module"),
    ("torch_models:VOCAB", {"input_ids": [[1]]}, "has no function 'VOCAB'"),
    ("torch_models:TextClassifier", {"user_id": [[1]]}, "forward does not take"),
    ("torch_models:TextClassifier", {"input_ids": [[1], [2, 3]]}, "ragged"),
    ("torch_models:TextClassifier", {"input_ids": [["a"]]}, "must hold numbers"),
])
def test_bad_factories_and_examples_are_one_clear_line(factory: str, example: dict,
                                                       message: str, tmp_path: Path) -> None:
    from modelport.errors import InvalidInputError
    from modelport.lifecycle.torch_export import export_torch

    with pytest.raises(InvalidInputError, match=message):
        export_torch(factory, example, tmp_path / "m.onnx")
