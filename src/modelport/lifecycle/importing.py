"""Importing a model trained elsewhere: an ONNX graph from PyTorch, TensorFlow or
Hugging Face, registered as a version like any model modelport trained.

The graph is read self-contained (external data embedded, checked: see
``core/formats/onnx_import``), loaded once by onnxruntime to prove it runs here,
and given a tensor signature read from its inputs and outputs. An input
example, when given, is run through the graph before anything is stored, so a
version that cannot answer its own example is never registered.

>>> modelport.import_onnx("recommender.onnx", name="recs")   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from modelport.core.text_inputs import TRUNCATE
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, ModelportError
from modelport.lifecycle.refs import check_name
from modelport.lifecycle.registry import ModelVersion, register_artifact

MAX_LABELS = 100_000
MAX_LABEL_CHARS = 200
MAX_EXAMPLE_BYTES = 10 * 1024 * 1024


def import_onnx(path: str | Path, name: str, *, labels: str | Path | Sequence[str] | None = None,
                input_example: str | Path | Mapping[str, Any] | Sequence[str] | None = None,
                tokenizer: str | Path | None = None, max_length: int | None = None,
                too_long: str = TRUNCATE, description: str = "",
                tags: Mapping[str, str] | None = None, ws: Workspace | None = None
                ) -> ModelVersion:
    """Register the ONNX graph at ``path`` as the next version of ``name``.

    ``labels``: class names, in the order of the graph's score columns (a text file,
    one per line, or a list). ``input_example``: one request — a mapping of input name
    to nested lists (a list of texts for a text model), or a JSON file holding one.
    ``tokenizer``: a Hugging Face tokenizer.json — clients then send raw text, each
    truncated to ``max_length`` tokens (``too_long="refuse"``: refused instead).
    """
    from modelport.core.formats import get_format
    from modelport.core.formats.onnx_graph import graph_signature
    from modelport.core.formats.onnx_import import read_graph

    ws = current(ws)
    check_name(name)
    graph = read_graph(Path(path))
    fmt = get_format("onnx")
    session = fmt.load_model(graph.data)
    classes = _labels(labels) if labels is not None else _metadata_labels(graph.metadata)
    signature = graph_signature(session, classes)
    predictor = fmt.predictor(session, signature)
    if tokenizer is not None:
        from modelport.lifecycle.text_import import text_predictor

        predictor = text_predictor(session, signature, graph.data, Path(tokenizer),
                                   max_length, too_long, ws)
        signature = predictor.signature
    example = _example(input_example)
    if example is not None:
        try:
            predictor.predict_outputs(example)
        except ModelportError as exc:
            raise InvalidInputError(f"the input example does not run: {exc.message}") from None
    recorded = {"onnx.opset": str(graph.opset), "onnx.producer": graph.producer,
                "onnx.external_files": str(graph.external_files), **(tags or {})}
    # one request as clients send it: a text model's texts, a graph's tensors
    stored: Any = example if isinstance(example, list) or example is None else [example]
    return register_artifact(name, fmt.name, graph.data, signature, example=stored,
                             description=description, tags=recorded, ws=ws)


def _metadata_labels(metadata: Mapping[str, str]) -> list[str] | None:
    """Class names a graph carries itself: a ``labels`` entry of its metadata, a JSON list."""
    text = metadata.get("labels")
    if text is None:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, list):
        raise InvalidInputError("the graph's 'labels' metadata is not a JSON list of names — "
                                "give the labels with --labels")
    return _labels(found)


def _labels(labels: str | Path | Sequence[str] | None) -> list[str] | None:
    if labels is None:
        return None
    if isinstance(labels, str | Path):
        try:
            text = Path(labels).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read labels from {labels}: {exc}") from None
        labels = [line.strip() for line in text.splitlines() if line.strip()]
    found = [str(label) for label in labels]
    if not found or len(found) > MAX_LABELS:
        raise InvalidInputError(f"labels: give 1 to {MAX_LABELS:,} class names, one per line")
    too_long = next((label for label in found if len(label) > MAX_LABEL_CHARS), None)
    if too_long is not None:
        raise InvalidInputError(f"label {too_long[:40]!r}… is longer than {MAX_LABEL_CHARS} "
                                "characters")
    if len(set(found)) != len(found):
        raise InvalidInputError("labels must be distinct: a name appears twice")
    return found


def _example(example: str | Path | Mapping[str, Any] | Sequence[str] | None
             ) -> dict[str, Any] | list[str] | None:
    if example is None or isinstance(example, Mapping):
        return None if example is None else {str(k): _plain(v) for k, v in example.items()}
    if not isinstance(example, str | Path):
        return [str(text) for text in example]
    data = read_example(Path(example), "input example")
    if isinstance(data, list) and data and all(isinstance(t, str) for t in data):
        return data  # a text model's example: texts
    if not isinstance(data, dict):
        raise InvalidInputError("the input example must be a JSON object of input name to "
                                "values, e.g. {\"user_id\": [[3]], \"item_id\": [[7]]}, or "
                                "a list of texts")
    return data


def read_example(path: Path, what: str) -> Any:
    """The JSON document at ``path`` (at most ``MAX_EXAMPLE_BYTES``), read whole."""
    try:
        if path.stat().st_size > MAX_EXAMPLE_BYTES:
            raise InvalidInputError(f"the {what} {path} is larger than "
                                    f"{MAX_EXAMPLE_BYTES // 2**20} MB")
        return json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the {what} {path}: {exc}") from None


def _plain(value: Any) -> Any:
    """A NumPy array as the nested lists a JSON column keeps."""
    return value.tolist() if hasattr(value, "tolist") else value
