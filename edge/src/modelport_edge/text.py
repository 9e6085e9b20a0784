"""Text models on a device: the bundle's tokenizer before the graph, softmax or pooling after.

A text model's bundle carries its Hugging Face ``tokenizer.json`` in the signed
manifest (data, read by the ``tokenizers`` library — the ``text`` extra of
``modelport-edge``), with the limits the version was imported with. Texts are
tokenized as the platform tokenizes them — padded to the longest of the call,
truncated at ``max_length`` or refused beyond it — so the device answers what
the server answers: label names and softmax scores, or an embedding per text
(the mean of the encoder's hidden states over each text's real tokens).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelport_edge.errors import BundleRejected

FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}


class TextModel:
    """Turns texts into a text graph's tensors, and its first output into answers."""

    def __init__(self, spec: Mapping[str, Any], tokenizer_json: str, inputs: list[str],
                 classes: list[str] | None) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise BundleRejected("unloadable", "this bundle holds a text model: install "
                                               "the tokenizers library (pip install "
                                               "'modelport-edge[text]')") from None
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        padding = self.tokenizer.padding or {}
        self.pad_id = padding.get("pad_id", self.tokenizer.token_to_id("[PAD]") or 0)
        self.tokenizer.enable_padding(pad_id=self.pad_id,
                                      pad_token=padding.get("pad_token", "[PAD]"),
                                      length=spec["max_length"] if spec["fixed_length"] else None)
        self.refuse = spec["too_long"] == "refuse"
        self.max_length = int(spec["max_length"])
        if self.refuse:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(self.max_length)
        self.inputs = inputs
        self.embed = spec.get("task") == "embed"
        self.classes = None if classes is None else np.asarray(classes)

    def feeds(self, texts: Any) -> dict[str, np.ndarray]:
        if isinstance(texts, str) or not isinstance(texts, list) or \
                not all(isinstance(t, str) for t in texts) or not texts:
            raise ValueError("this model takes a non-empty list of texts")
        encodings = self.tokenizer.encode_batch(texts)
        if self.refuse:
            for i, e in enumerate(encodings):
                if sum(e.attention_mask) > self.max_length:
                    raise ValueError(f"text {i} has more than this model's maximum of "
                                     f"{self.max_length} tokens")
        return {name: np.array([getattr(e, FIELDS[name]) for e in encodings], dtype=np.int64)
                for name in self.inputs}

    def answers(self, feeds: dict[str, np.ndarray], first: np.ndarray) -> dict[str, np.ndarray]:
        """Label and scores (a classifier's logits) or the mean-pooled embedding."""
        if self.embed:
            mask = feeds.get("attention_mask", feeds["input_ids"] != self.pad_id)
            weights = mask.astype(first.dtype)[:, :, None]
            return {"embedding": (first * weights).sum(axis=1) /
                    np.maximum(weights.sum(axis=1), 1.0)}
        assert self.classes is not None
        logits = first.astype(np.float64)
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        return {"prediction": self.classes[proba.argmax(axis=1)], "probabilities": proba}
