"""Raw text in, token tensors out: what a text model's clients send and its graph takes.

Clients of a text classifier send sentences (OIP ``BYTES``, KServe
``{"instances": ["text", ...]}``, MLflow ``/invocations``), not token ids: a
Hugging Face ``tokenizer.json`` — declarative data, read by the ``tokenizers``
library, never code — turns them into the graph's ``input_ids`` (and
``attention_mask``, ``token_type_ids`` when the graph takes them), padded to
the longest text of the batch (or to the graph's fixed length) and truncated
to ``max_length`` — or refused naming the text, when the version says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.tensor_inputs import TensorBatch, TensorSpec
from modelport.errors import SchemaError

TRUNCATE, REFUSE = "truncate", "refuse"
IDS, MASK, TYPES = "input_ids", "attention_mask", "token_type_ids"
TEXT = "text"  # the input clients name: OIP's tensor, a file's column, an event's field
CLASSIFY, EMBED = "classify", "embed"


@dataclass(frozen=True)
class TextSpec:
    tokenizer: str  # the tokenizer.json's digest in the artifact store
    max_length: int
    too_long: str = TRUNCATE  # or REFUSE: a longer text is a 422 naming it
    fixed_length: bool = False  # the graph takes exactly max_length tokens per text
    task: str = CLASSIFY  # or EMBED: the graph answers hidden states, mean-pooled


def texts_of(batch: Any) -> list[str]:
    """The texts of a request: a list of texts, one column of them (a mapping with one
    key, as OIP and MLflow's columnar bodies give), rows holding one text each, or a
    table's ``text`` column (a pandas or Arrow table: a file ``modelport predict`` reads)."""
    if hasattr(batch, "column_names") or hasattr(batch, "columns"):
        batch = text_column(batch)
    if isinstance(batch, Mapping):
        if len(batch) != 1:
            raise SchemaError(f"a text model takes one text input, got {len(batch)} "
                              f"({', '.join(map(str, list(batch)[:5]))})")
        (values,) = batch.values()
        batch = values.ravel().tolist() if isinstance(values, np.ndarray) else values
    elif isinstance(batch, np.ndarray):
        batch = batch.ravel().tolist()
    if isinstance(batch, list) and batch and all(isinstance(r, Mapping) and
                                                 (len(r) == 1 or TEXT in r) for r in batch):
        batch = [r[TEXT] if TEXT in r else next(iter(r.values())) for r in batch]
    if isinstance(batch, list) and batch and all(isinstance(r, list) and len(r) == 1
                                                 for r in batch):
        batch = [r[0] for r in batch]
    if not isinstance(batch, list):
        raise SchemaError("a text model takes a list of texts")
    return [_text(value, i) for i, value in enumerate(batch)]


def text_column(table: Any) -> list[Any]:
    """The ``text`` column of a pandas or Arrow table (or its only column), as values."""
    names = [str(n) for n in getattr(table, "column_names", None) or table.columns]
    if TEXT not in names and len(names) != 1:
        raise SchemaError(f"a text model reads the column {TEXT!r}; this table has "
                          f"{', '.join(names[:5])}{', …' if len(names) > 5 else ''}")
    name = TEXT if TEXT in names else names[0]
    column = table[name] if not hasattr(table, "column_names") else table.column(name)
    return column.to_pylist() if hasattr(column, "to_pylist") else column.tolist()


def _text(value: Any, row: int) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise SchemaError(f"text {row} is not valid UTF-8") from None
    if not isinstance(value, str):
        raise SchemaError(f"text {row} must be a string, got {type(value).__name__}")
    return value


def configure(tokenizer: Any, spec: TextSpec) -> Any:
    """``tokenizer`` set to pad (to the longest text, or the fixed length) and, unless
    long texts are refused, to truncate at ``max_length``."""
    padding = tokenizer.padding or {}
    pad_id = padding.get("pad_id", tokenizer.token_to_id("[PAD]") or 0)
    pad_token = padding.get("pad_token", "[PAD]")
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token,
                             length=spec.max_length if spec.fixed_length else None)
    if spec.too_long == TRUNCATE:
        tokenizer.enable_truncation(spec.max_length)
    else:
        tokenizer.no_truncation()
    return tokenizer


def encode(tokenizer: Any, spec: TextSpec, inputs: Sequence[TensorSpec], texts: list[str]
           ) -> TensorBatch:
    """The graph's tensors for ``texts`` (``tokenizer`` as ``configure`` set it)."""
    if not texts:
        raise SchemaError("the request has no texts")
    encodings = tokenizer.encode_batch(texts)
    if spec.too_long == REFUSE:
        for i, e in enumerate(encodings):
            used = sum(e.attention_mask)
            if used > spec.max_length:
                raise SchemaError(f"text {i} has {used} tokens, more than this model's "
                                  f"maximum of {spec.max_length}")
    fields = {IDS: "ids", MASK: "attention_mask", TYPES: "type_ids"}
    pads = {IDS: (tokenizer.padding or {}).get("pad_id", 0), MASK: 0, TYPES: 0}
    return TensorBatch({t.name: np.array([getattr(e, fields[t.name]) for e in encodings],
                                         dtype=t.dtype) for t in inputs},
                       None if spec.fixed_length else {t.name: pads[t.name] for t in inputs})
