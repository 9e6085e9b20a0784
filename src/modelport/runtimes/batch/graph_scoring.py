"""Scoring one chunk with an imported graph: a ``text`` column, or one column per tensor.

A tabular model's chunk becomes one float matrix (``scoring.Scorer``); an
imported graph's chunk goes through its own predictor's ``matrix`` instead: a
text model tokenizes the ``text`` column (padded to the chunk's longest text),
a tensor graph takes one column per input — a value per row for a ``[batch, 1]``
input, a list per row otherwise. Every output is written under its own name
(a ``[rows, n]`` output, an embedding, as a list per row), a text classifier's
scores as ``proba_LABEL`` columns as for every classifier.

A chunk the graph refuses is scored row by row, so the rows at fault are found
and — as for every model — stop the job (``fail``) or are counted and set aside
(``skip``, ``quarantine``), never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from modelport.errors import ModelportError
from modelport.runtimes.batch.reader import Chunk, Split, read_chunks
from modelport.runtimes.batch.scoring import ChunkResult, ModelSpec, ScoreOptions, Scorer


class GraphScorer(Scorer):
    """Scores chunks with a graph's predictor (text or named tensors); one per worker."""

    def __init__(self, spec: ModelSpec, options: ScoreOptions) -> None:
        super().__init__(spec, options)
        signature = self.predictor.signature
        self.inputs = signature.columns
        self.columns = self.inputs + [k for k in options.keep if k not in self.inputs]
        self.text = signature.text is not None
        assert signature.tensors is not None
        self.ranks = {t.name: t.rank for t in signature.tensors}

    def run(self, split: Split, skip: frozenset[int] = frozenset()) -> Iterator[ChunkResult]:
        text = self.inputs if self.text and split.kind == "csv" else []
        for chunk in read_chunks(split, self.columns, text, self.options.batch_size, skip,
                                 strict_lines=self.options.on_error == "fail"):
            yield self.score(split, chunk)

    def score(self, split: Split, chunk: Chunk) -> ChunkResult:
        feeds = self._feeds(chunk.batch)
        good = np.ones(chunk.batch.num_rows, dtype=bool)
        rejected: dict[int, str] = {}
        try:
            outputs = self._outputs(feeds) if len(good) else {}
        except ModelportError:
            outputs = self._row_by_row(feeds, len(good), rejected)
            if rejected:
                self._fail_fast(split, chunk, rejected)
                good[list(rejected)] = False
        output = self._output(chunk.batch, good, outputs)
        quarantine = None
        if self.options.on_error == "quarantine" and (rejected or chunk.bad_lines):
            quarantine = self._quarantine(split, chunk, rejected, chunk.bad_lines)
        return ChunkResult(split.file, split.index, chunk.index, int(good.sum()),
                           len(rejected) + len(chunk.bad_lines), output, quarantine)

    def _feeds(self, batch: Any) -> dict[str, Any]:
        """The chunk's input columns as the predictor takes them."""
        if self.text:
            return {name: batch.column(name).to_pylist() for name in self.inputs}
        feeds = {}
        for name in self.inputs:
            values = np.asarray(batch.column(name).to_pylist())
            if values.ndim == 1 and self.ranks[name] == 2:  # a [batch, 1] input, one per row
                values = values[:, None]
            feeds[name] = values
        return feeds

    def _outputs(self, feeds: Any) -> dict[str, np.ndarray]:
        outputs = self.predictor.predict_outputs(feeds)
        if not self.proba:
            outputs.pop("probabilities", None)
        return outputs

    def _row_by_row(self, feeds: dict[str, Any], rows: int, rejected: dict[int, str]
                    ) -> dict[str, np.ndarray]:
        """Each row's outputs alone (joined), and why the graph refused each other row."""
        answers = []
        for i in range(rows):
            try:
                answers.append(self._outputs({k: v[i:i + 1] for k, v in feeds.items()}))
            except ModelportError as exc:
                rejected[i] = exc.message
        if not answers:
            return {}
        return {k: np.concatenate([a[k] for a in answers]) for k in answers[0]}


def scorer_for(spec: ModelSpec, options: ScoreOptions) -> Scorer:
    """The scorer for a model: columns to a matrix, or a graph's text or tensors."""
    if spec.signature.get("tensors") is None:
        return Scorer(spec, options)
    return GraphScorer(spec, options)
