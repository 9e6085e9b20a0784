"""Batch jobs and ``modelport predict`` with imported graphs: a Parquet text column through
the tokenizer, a recommender's id columns, an encoder's embeddings — equal to onnxruntime
on the same inputs; a row the graph refuses stops the job naming it, or is set aside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import cli
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
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.importing import import_onnx
from modelport.runtimes.batch import predict_job

# what these check does not depend on the metadata store; its records (runs, versions,
# jobs) are tested on PostgreSQL too in tests/core/store and tests/lifecycle/test_registry
pytestmark = pytest.mark.storage_independent

pytest.importorskip("tokenizers")
TEXTS = sentences(40, seed=21)


@pytest.fixture
def reviews(ws: Workspace, tmp_path: Path) -> tuple[object, object]:
    tokenizer = word_piece(tmp_path / "tokenizer.json")
    model = text_classifier(80, seed=2)
    import_onnx(save(model, tmp_path / "text.onnx"), "reviews", labels=LABELS,
                tokenizer=tmp_path / "tokenizer.json", ws=ws)
    return model, tokenizer


def test_a_parquet_text_column_is_scored_as_onnxruntime_scores_it(
        ws: Workspace, reviews: tuple[object, object], tmp_path: Path) -> None:
    model, tokenizer = reviews
    pd.DataFrame({"id": range(len(TEXTS)), "text": TEXTS}).to_parquet(tmp_path / "in.parquet")
    report = predict_job("reviews", str(tmp_path / "in.parquet"), str(tmp_path / "out"),
                         keep=["id"], batch_size=16, workers=1, ws=ws)
    assert (report.rows, report.failed) == (len(TEXTS), 0)
    got = pd.read_parquet(tmp_path / "out").sort_values("id")
    assert list(got.columns) == ["id", "prediction"] + [f"proba_{label}" for label in LABELS]
    want = np.vstack([text_reference(model, tokenizer, TEXTS[i:i + 16])  # padded per chunk
                      for i in range(0, len(TEXTS), 16)])
    np.testing.assert_allclose(got[[f"proba_{label}" for label in LABELS]], want, rtol=1e-6,
                               atol=1e-7)
    assert got.prediction.tolist() == [LABELS[i] for i in want.argmax(axis=1)]


def test_a_row_that_is_not_text_stops_the_job_or_is_set_aside(
        ws: Workspace, reviews: tuple[object, object], tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": [*TEXTS[:5], None, *TEXTS[5:9]]})
    frame.to_parquet(tmp_path / "in.parquet")
    with pytest.raises(InvalidInputError, match=r"row 6: text 0 must be a string"):
        predict_job("reviews", str(tmp_path / "in.parquet"), str(tmp_path / "a"), workers=1,
                    ws=ws)
    report = predict_job("reviews", str(tmp_path / "in.parquet"), str(tmp_path / "b"),
                         on_error="quarantine", workers=1, ws=ws)
    assert (report.rows, report.failed) == (9, 1)
    assert len(pd.read_parquet(tmp_path / "b")) == 9


def test_id_columns_feed_a_recommender_and_embeddings_are_lists(ws: Workspace, tmp_path: Path
                                                               ) -> None:
    model = two_tower()
    import_onnx(save(model, tmp_path / "recs.onnx"), "recs", ws=ws)
    users, items = np.arange(30) % 50, (np.arange(30) * 7) % 80
    pd.DataFrame({"user_id": users, "item_id": items}).to_parquet(tmp_path / "pairs.parquet")
    predict_job("recs", str(tmp_path / "pairs.parquet"), str(tmp_path / "scores"), workers=1,
                ws=ws)
    got = pd.read_parquet(tmp_path / "scores")
    want = reference(model, {"user_id": users[:, None], "item_id": items[:, None]})["score"]
    np.testing.assert_allclose(got.score, want[:, 0], rtol=1e-6)

    word_piece(tmp_path / "tokenizer.json")
    import_onnx(save(encoder(80), tmp_path / "enc.onnx"), "enc",
                tokenizer=tmp_path / "tokenizer.json", ws=ws)
    pd.DataFrame({"text": TEXTS[:6]}).to_parquet(tmp_path / "texts.parquet")
    predict_job("enc", str(tmp_path / "texts.parquet"), str(tmp_path / "vectors"), workers=1,
                ws=ws)
    vectors = pd.read_parquet(tmp_path / "vectors").embedding
    assert len(vectors) == 6 and {len(v) for v in vectors} == {8}


def test_modelport_predict_reads_a_csv_text_column(
        env_ws: Workspace, reviews: tuple[object, object], tmp_path: Path) -> None:
    model, tokenizer = reviews
    pd.DataFrame({"id": [1, 2, 3], "text": TEXTS[:3]}).to_csv(tmp_path / "in.csv", index=False)
    cli("predict", "reviews", "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"))
    got = pd.read_csv(tmp_path / "out.csv")
    want = text_reference(model, tokenizer, TEXTS[:3])
    assert got.prediction.tolist() == [LABELS[i] for i in want.argmax(axis=1)]
    np.testing.assert_allclose(got[[f"proba_{label}" for label in LABELS]], want, rtol=1e-6)
