"""The text half of an import: a tokenizer.json checked against the graph it feeds.

A text graph takes ``input_ids`` (and maybe ``attention_mask`` and
``token_type_ids``) and answers one logit per class — or, an encoder given no
labels, its hidden states, answered as mean-pooled embeddings. The tokenizer must fit it:
every id it can produce must be a row of the graph's embedding table — a bigger
vocabulary would index past the table at the first rare word, so it is refused
here, at import. Its bytes go to the artifact store beside the graph; the
version's signature keeps their digest, checked again on every load.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from modelport.core.signature import OutputSpec, Signature
from modelport.core.text_inputs import (
    CLASSIFY,
    EMBED,
    IDS,
    MASK,
    REFUSE,
    TRUNCATE,
    TYPES,
    TextSpec,
)
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError

MAX_TOKENIZER_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_LENGTH = 512


def text_predictor(session: Any, signature: Signature, graph: bytes, path: Path,
                   max_length: int | None, too_long: str, ws: Workspace) -> Any:
    """A ``TextPredictor`` for the imported graph, its tokenizer stored in ``ws``."""
    from modelport.core.formats.onnx_import import embedding_rows
    from modelport.core.formats.onnx_text import load_tokenizer, text_model

    if too_long not in (TRUNCATE, REFUSE):
        raise InvalidInputError(f"too_long must be {TRUNCATE!r} or {REFUSE!r}, not {too_long!r}")
    assert signature.tensors is not None
    names = {t.name: t for t in signature.tensors}
    other = sorted(set(names) - {IDS, MASK, TYPES})
    if IDS not in names or other:
        raise InvalidInputError(
            f"a text graph takes {IDS} (and optionally {MASK}, {TYPES}); this one takes "
            f"{', '.join(names)}")
    hidden = signature.outputs[0]
    task = EMBED if signature.classes is None and len(hidden.shape) == 3 else CLASSIFY
    if task == CLASSIFY and signature.classes is None:
        raise InvalidInputError("a text classifier needs its class names — give them with "
                                "--labels (one per line, in the order of the logits); an "
                                "encoder whose first output is [batch, sequence, hidden] "
                                "answers embeddings without them")
    data = _read(path)
    tokenizer = load_tokenizer(data)
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    rows = embedding_rows(graph, IDS)
    if rows is not None and vocab > rows:
        raise InvalidInputError(f"the tokenizer's vocabulary has {vocab:,} tokens but the "
                                f"graph's embedding has {rows:,} rows — it was trained with "
                                "another tokenizer")
    seq = names[IDS].shape[1] if names[IDS].rank == 2 else None
    if names[IDS].rank != 2:
        raise InvalidInputError(f"{IDS} must have shape [batch, sequence], got "
                                f"{names[IDS].shape}")
    fixed = isinstance(seq, int) and seq > 0
    limit = max_length or (seq if fixed else None) or \
        (tokenizer.truncation or {}).get("max_length") or DEFAULT_MAX_LENGTH
    if not 1 <= int(limit) <= 1_000_000 or (fixed and limit != seq):
        raise InvalidInputError(f"max length {limit} does not fit the graph "
                                f"({IDS} {names[IDS].shape})")
    spec = TextSpec(ws.artifacts.put(data), int(limit), too_long, fixed, task)
    text_signature = replace(signature, text=spec, outputs=_outputs(signature, task))
    return text_model(session, text_signature, data)


def _outputs(signature: Signature, task: str) -> list[OutputSpec]:
    """What the text model answers: label and scores, or one embedding per text."""
    first = signature.outputs[0]
    if task == EMBED:
        return [OutputSpec("embedding", "float32", [-1, first.shape[2]])]
    assert signature.classes is not None
    n = len(signature.classes)
    if len(first.shape) != 2 or first.shape[1] not in (-1, n):
        raise InvalidInputError(f"the graph's first output {first.name!r} has shape "
                                f"{first.shape}, not one logit per label ({n})")
    return [OutputSpec("prediction", "object", [-1]),
            OutputSpec("probabilities", "float64", [-1, n])]


def _read(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_TOKENIZER_BYTES:
            raise InvalidInputError(f"the tokenizer {path} is larger than "
                                    f"{MAX_TOKENIZER_BYTES // 2**20} MB")
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read the tokenizer {path}: {exc.strerror}") from None
