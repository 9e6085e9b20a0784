"""A stream of text events through an imported text classifier: each prediction equal to
onnxruntime's on the same text, in event order; an event that holds no text is a dead
letter with its reason, and the stream goes on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
from streams import read_all

from graphs import LABELS, save, sentences, text_classifier, text_reference, word_piece
from modelport.core.workspace import Workspace
from modelport.lifecycle.importing import import_onnx
from modelport.runtimes.stream import brokers
from modelport.runtimes.stream.runner import StreamConfig, StreamRunner


def test_text_events_in_labels_and_scores_out(make_url: Callable[[str], str], env_ws: Workspace,
                                             tmp_path: Path) -> None:
    tokenizer = word_piece(tmp_path / "tokenizer.json")
    model = text_classifier(80, seed=3)
    import_onnx(save(model, tmp_path / "text.onnx"), "reviews", labels=LABELS,
                tokenizer=tmp_path / "tokenizer.json", ws=env_ws)
    texts = sentences(30, seed=8)
    events, preds = make_url("events"), make_url("preds")
    with brokers.open_sink(events) as sink:
        sink.publish([orjson.dumps({"id": f"t{i}", "features": {"text": t, "lang": "en"}})
                      for i, t in enumerate(texts)] +
                     [orjson.dumps({"id": "bad", "features": {"text": 42}})])
    runner = StreamRunner("reviews", StreamConfig(source=events, sink=preds, group="g",
                                                  drift="off"), ws=env_ws)
    stats = runner.run(max_events=len(texts) + 1)
    got = read_all(preds, len(texts))
    assert [p["id"] for p in got] == [f"t{i}" for i in range(len(texts))]
    for p, text in zip(got, texts, strict=True):  # padded in its batch: the mask hides it
        want = text_reference(model, tokenizer, [text])[0]
        assert p["prediction"] == LABELS[int(want.argmax())]
        assert max(abs(a - b) for a, b in zip(p["probabilities"], want, strict=True)) < 1e-6
    dead = read_all(brokers.dead_letter_url(events), 1)
    assert stats.dead_letters == 1 and "must be a string" in dead[0]["reason"]
