"""Text models: a tokenizer trained here on generated text, a small classifier graph;
raw texts in, labels and softmax scores out — equal to onnxruntime on the same tokens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graphs import LABELS, sentences, text_classifier, text_reference, word_piece
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, SchemaError
from modelport.lifecycle.importing import import_onnx
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import list_models

# what these check does not depend on the metadata store; its records (runs, versions,
# jobs) are tested on PostgreSQL too in tests/core/store and tests/lifecycle/test_registry
pytestmark = pytest.mark.storage_independent

pytest.importorskip("tokenizers")
pytest.importorskip("onnx")


def _files(tmp_path: Path, rows: int = 80, max_length: int | None = None
           ) -> tuple[Path, Path, Path, object, object]:
    from graphs import save

    tokenizer = word_piece(tmp_path / "tokenizer.json", max_length=max_length)
    model = text_classifier(rows)
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return (save(model, tmp_path / "text.onnx"), tmp_path / "tokenizer.json",
            tmp_path / "labels.txt", model, tokenizer)


def test_texts_in_labels_and_scores_out(ws: Workspace, tmp_path: Path) -> None:
    path, tok, labels, model, tokenizer = _files(tmp_path)
    v = import_onnx(path, "reviews", labels=labels, tokenizer=tok,
                    input_example=["the movie was good"], ws=ws)
    assert v.signature.text is not None and v.signature.text.max_length == 512
    assert v.signature.classes == LABELS and v.input_example == ["the movie was good"]
    predictor = load("reviews", ws=ws)
    texts = [*sentences(7, seed=5), "zzz unknown words qqq"]
    got = predictor.predict_outputs(texts)
    want = text_reference(model, tokenizer, texts)
    np.testing.assert_allclose(got["probabilities"], want, rtol=1e-6, atol=1e-7)
    assert list(got["prediction"]) == [LABELS[i] for i in want.argmax(axis=1)]
    # the same texts as OIP BYTES would bring them, and as MLflow records
    again = predictor.predict_outputs({"text": np.array([t.encode() for t in texts],
                                                        dtype=object)})
    np.testing.assert_array_equal(again["probabilities"], got["probabilities"])
    records = predictor.predict_outputs([{"text": t} for t in texts])
    np.testing.assert_array_equal(records["probabilities"], got["probabilities"])


def test_long_texts_are_truncated_or_refused(ws: Workspace, tmp_path: Path) -> None:
    path, tok, labels, model, tokenizer = _files(tmp_path)
    long_text = " ".join(["good movie"] * 40)
    v = import_onnx(path, "reviews", labels=labels, tokenizer=tok, max_length=16, ws=ws)
    assert v.signature.text is not None and v.signature.text.max_length == 16
    got = load("reviews:1", ws=ws).predict_outputs([long_text, "bad"])
    tokenizer.enable_truncation(16)
    np.testing.assert_allclose(got["probabilities"],
                               text_reference(model, tokenizer, [long_text, "bad"]), rtol=1e-6)
    import_onnx(path, "reviews", labels=labels, tokenizer=tok, max_length=16,
                too_long="refuse", ws=ws)
    tokenizer.no_truncation()
    n = len(tokenizer.encode(long_text).ids)
    with pytest.raises(SchemaError, match=f"text 1 has {n} tokens, more than this model's "
                                          "maximum of 16"):
        load("reviews:2", ws=ws).predict_outputs(["fine", long_text])
    with pytest.raises(SchemaError, match="text 0 must be a string"):
        load("reviews:2", ws=ws).predict_outputs([3])
    with pytest.raises(SchemaError, match="text 0 is not valid UTF-8"):
        load("reviews:2", ws=ws).predict_outputs({"text": np.array([b"\xff\xfe"], dtype=object)})


def test_a_vocabulary_bigger_than_the_embedding_is_refused(ws: Workspace, tmp_path: Path
                                                           ) -> None:
    path, tok, labels, _, tokenizer = _files(tmp_path, rows=20)
    vocab = tokenizer.get_vocab_size()
    with pytest.raises(InvalidInputError, match=f"vocabulary has {vocab} tokens but the "
                                                "graph's embedding has 20 rows"):
        import_onnx(path, "reviews", labels=labels, tokenizer=tok, ws=ws)
    assert list_models(ws=ws) == []


def test_bad_text_imports(ws: Workspace, tmp_path: Path) -> None:
    path, tok, labels, _, _ = _files(tmp_path)
    with pytest.raises(InvalidInputError, match="needs its class names"):
        import_onnx(path, "reviews", tokenizer=tok, ws=ws)
    (tmp_path / "two.txt").write_text("a\nb\n")
    with pytest.raises(InvalidInputError, match="not one logit per label"):
        import_onnx(path, "reviews", labels=tmp_path / "two.txt", tokenizer=tok, ws=ws)
    (tmp_path / "bad.json").write_text(json.dumps({"model": "not a tokenizer"}))
    with pytest.raises(InvalidInputError, match=r"not a Hugging Face tokenizer\.json"):
        import_onnx(path, "reviews", labels=labels, tokenizer=tmp_path / "bad.json", ws=ws)
    with pytest.raises(InvalidInputError, match="too_long must be"):
        import_onnx(path, "reviews", labels=labels, tokenizer=tok, too_long="cut", ws=ws)
    assert list_models(ws=ws) == []
