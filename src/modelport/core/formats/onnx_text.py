"""Text models around an imported graph: raw texts in, labels and scores or embeddings out.

The graph itself is served by ``GraphPredictor``; these predictors put the
tokenizer before it (``core/text_inputs``) and, after it, either a softmax — the
graph's first output holds one logit per class, answered as ``probabilities``
and the ``prediction``, the name of the most likely class — or, for an encoder
whose first output is its hidden states ``[batch, sequence, hidden]``, their
mean over the attention mask: one ``embedding`` per text, the sentence vector
sentence-transformers computes, on which padding has no effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.core.formats.onnx_graph import GraphPredictor
from modelport.core.signature import Signature
from modelport.core.tensor_inputs import TensorBatch
from modelport.core.text_inputs import EMBED, IDS, MASK, TextSpec, configure, encode, texts_of
from modelport.errors import InvalidInputError, first_line, require


def load_tokenizer(data: bytes) -> Any:
    """A ``tokenizers.Tokenizer`` from tokenizer.json bytes (data, never code)."""
    tokenizers = require("tokenizers", "text")
    try:
        return tokenizers.Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # the Rust parser's own exception type
        raise InvalidInputError(f"not a Hugging Face tokenizer.json: {first_line(exc)}") from None


def text_model(session: Any, signature: Signature, tokenizer: bytes) -> TextPredictor:
    """The predictor of a text version: its graph's ``session`` behind the tokenizer
    (tokenizer.json bytes, verified against the digest its signature keeps)."""
    assert signature.text is not None
    kind = EmbeddingPredictor if signature.text.task == EMBED else TextPredictor
    return kind(session, signature, load_tokenizer(tokenizer), signature.text)


class TextPredictor(GraphPredictor):
    """Tokenizes, runs the graph, answers labels and softmax scores."""

    def __init__(self, session: Any, signature: Signature, tokenizer: Any, spec: TextSpec
                 ) -> None:
        super().__init__(session, signature)
        self.spec = spec
        self.tokenizer = configure(tokenizer, spec)
        self._logits = self._outputs[0]
        self.prediction_output = signature.outputs[0].name

    def matrix(self, batch: Any) -> Any:
        if isinstance(batch, TensorBatch):  # already tokenized (a stream checks first)
            return batch
        return encode(self.tokenizer, self.spec, self._specs, texts_of(batch))

    def outputs_of_matrix(self, x: Any) -> dict[str, np.ndarray]:
        logits = super().outputs_of_matrix(x)[self._logits].astype(np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba = shifted / shifted.sum(axis=1, keepdims=True)
        return {"prediction": self.labels(proba), "probabilities": proba}

    def predict_matrix(self, x: Any) -> np.ndarray:
        return self.outputs_of_matrix(x)["prediction"]


class EmbeddingPredictor(TextPredictor):
    """Tokenizes, runs an encoder, answers the mean of its hidden states over each
    text's real tokens (``embedding``, float32 ``[batch, hidden]``)."""

    def outputs_of_matrix(self, x: Any) -> dict[str, np.ndarray]:
        batch: TensorBatch = x
        hidden = GraphPredictor.outputs_of_matrix(self, batch)[self._logits]
        mask = batch.arrays[MASK] if MASK in batch.arrays else \
            batch.arrays[IDS] != (batch.pads or {}).get(IDS, 0)
        weights = mask.astype(hidden.dtype)[:, :, None]
        counts = np.maximum(weights.sum(axis=1), 1.0)
        return {"embedding": (hidden * weights).sum(axis=1) / counts}
