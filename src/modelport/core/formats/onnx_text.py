"""A text classifier: raw texts in, labels and scores out, around an imported graph.

The graph itself is served by ``GraphPredictor``; this predictor puts the
tokenizer before it (``core/text_inputs``) and a softmax after it: the graph's
first output holds one logit per class, answered as ``probabilities`` and the
``prediction`` — the name of the most likely class.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.core.formats.onnx_graph import GraphPredictor
from modelport.core.signature import Signature
from modelport.core.text_inputs import TextSpec, configure, encode, texts_of
from modelport.errors import InvalidInputError, first_line, require


def load_tokenizer(data: bytes) -> Any:
    """A ``tokenizers.Tokenizer`` from tokenizer.json bytes (data, never code)."""
    tokenizers = require("tokenizers", "text")
    try:
        return tokenizers.Tokenizer.from_str(data.decode("utf-8"))
    except Exception as exc:  # the Rust parser's own exception type
        raise InvalidInputError(f"not a Hugging Face tokenizer.json: {first_line(exc)}") from None


class TextPredictor(GraphPredictor):
    """Tokenizes, runs the graph, answers labels and softmax scores."""

    def __init__(self, session: Any, signature: Signature, tokenizer: Any, spec: TextSpec
                 ) -> None:
        super().__init__(session, signature)
        self.spec = spec
        self.tokenizer = configure(tokenizer, spec)
        self._logits = self._outputs[0]

    def matrix(self, batch: Any) -> Any:
        return encode(self.tokenizer, self.spec, self._specs, texts_of(batch))

    def outputs_of_matrix(self, x: Any) -> dict[str, np.ndarray]:
        logits = super().outputs_of_matrix(x)[self._logits].astype(np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba = shifted / shifted.sum(axis=1, keepdims=True)
        return {"prediction": self.labels(proba), "probabilities": proba}

    def predict_matrix(self, x: Any) -> np.ndarray:
        return self.outputs_of_matrix(x)["prediction"]
