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

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, ModelportError
from modelport.lifecycle.refs import check_name
from modelport.lifecycle.registry import ModelVersion, register_artifact

MAX_LABELS = 100_000
MAX_LABEL_CHARS = 200
MAX_EXAMPLE_BYTES = 10 * 1024 * 1024


def import_onnx(path: str | Path, name: str, *, labels: str | Path | Sequence[str] | None = None,
                input_example: str | Path | Mapping[str, Any] | None = None,
                description: str = "", tags: Mapping[str, str] | None = None,
                ws: Workspace | None = None) -> ModelVersion:
    """Register the ONNX graph at ``path`` as the next version of ``name``.

    ``labels``: class names, in the order of the graph's score columns (a text file,
    one per line, or a list). ``input_example``: one request's tensors — a mapping of
    input name to nested lists, or a JSON file holding one.
    """
    from modelport.core.formats import get_format
    from modelport.core.formats.onnx_graph import graph_signature
    from modelport.core.formats.onnx_import import read_graph

    check_name(name)
    graph = read_graph(Path(path))
    fmt = get_format("onnx")
    session = fmt.load_model(graph.data)
    signature = graph_signature(session, _labels(labels))
    example = _example(input_example)
    if example is not None:
        try:
            fmt.predictor(session, signature).predict_outputs(example)
        except ModelportError as exc:
            raise InvalidInputError(f"the input example does not run: {exc.message}") from None
    recorded = {"onnx.opset": str(graph.opset), "onnx.producer": graph.producer,
                "onnx.external_files": str(graph.external_files), **(tags or {})}
    return register_artifact(name, fmt.name, graph.data, signature,
                             example=None if example is None else [example],
                             description=description, tags=recorded, ws=ws)


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


def _example(example: str | Path | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if example is None or isinstance(example, Mapping):
        return None if example is None else {str(k): _plain(v) for k, v in example.items()}
    path = Path(example)
    try:
        if path.stat().st_size > MAX_EXAMPLE_BYTES:
            raise InvalidInputError(f"the input example {path} is larger than "
                                    f"{MAX_EXAMPLE_BYTES // 2**20} MB")
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read the input example {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the input example must be a JSON object of input name to "
                                "values, e.g. {\"user_id\": [[3]], \"item_id\": [[7]]}")
    return data


def _plain(value: Any) -> Any:
    """A NumPy array as the nested lists a JSON column keeps."""
    return value.tolist() if hasattr(value, "tolist") else value
