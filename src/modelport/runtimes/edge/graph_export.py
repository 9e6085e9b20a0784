"""The model half of an edge bundle for a graph imported from elsewhere.

A tabular version's bundle holds its ONNX export, compared with the source
model on its example and sample rows (``export``). An imported graph *is*
ONNX: the bundle holds the graph itself, or the graph dynamically quantized to
int8 — and the copy is compared with the graph as imported on the version's
input example, the one request registered with it (named tensors). The
comparison goes into the manifest, on the graph's own prediction output: its
largest absolute difference and that difference relative to the outputs'
range. A quantized copy that moves it by more than ``MAX_REL_ERROR`` is
refused. The device replays the same example as its smoke test.

A text model's bundle carries its tokenizer.json in the signed manifest (the
device reads it with the ``tokenizers`` library: ``modelport-edge[text]``); its
input example is texts, and the comparison is on the class scores (or the
embedding), with the share of labels that agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.formats import get_format
from modelport.core.workspace import Workspace
from modelport.errors import ExportError
from modelport.lifecycle.registry import ModelVersion

MAX_REL_ERROR = 0.05
MAX_TOKENIZER_BYTES = 3 * 1024 * 1024  # the manifest (4 MB at most on a device) holds it


@dataclass(frozen=True)
class GraphPart:
    """What the bundle's manifest says of its model, and the bytes of that model."""

    data: bytes
    quantized: dict[str, Any] | None
    parity: dict[str, Any]
    smoke: Any  # the example: a graph's tensors or a text model's texts
    tokenizer: str | None = None  # a text model's tokenizer.json


def graph_part(version: ModelVersion, quantize: str | None, ws: Workspace) -> GraphPart:
    """The imported graph of ``version`` (quantized when asked), compared with itself as
    imported on the version's input example."""
    from modelport.runtimes.edge.quantize import quantize_int8

    if not version.input_example:
        raise ExportError(f"{version.ref} has no input example to check a bundle on — import "
                          "it again with --input-example")
    graph = ws.artifacts.get(version.artifact_digest)
    data, quantized = graph, None
    if quantize == "int8":
        data, quantized = quantize_int8(graph)
    fmt = get_format("onnx")
    source, copy = fmt.load(graph, version.signature), fmt.load(data, version.signature)
    text = version.signature.text
    tokenizer = None if text is None else ws.artifacts.get(text.tokenizer)
    if tokenizer is not None:
        from modelport.core.formats.onnx_text import text_model

        if len(tokenizer) > MAX_TOKENIZER_BYTES:
            raise ExportError(f"{version.ref}'s tokenizer.json is {len(tokenizer):,} bytes; a "
                              f"bundle's manifest holds at most {MAX_TOKENIZER_BYTES:,}")
        source = text_model(getattr(source, "session", None), version.signature, tokenizer)
        copy = text_model(getattr(copy, "session", None), version.signature, tokenizer)
    # a text model's example is its texts; a graph's, one request of named tensors
    example = version.input_example if text is not None else version.input_example[0]
    parity = graph_parity(source, copy, example)
    if quantized and parity["max_rel_error"] > MAX_REL_ERROR:
        raise ExportError(f"int8 quantization of {version.ref} moves {parity['output']!r} by "
                          f"up to {parity['max_rel_error']:.1%} of its range on the input "
                          f"example (limit {MAX_REL_ERROR:.0%}) — export it without --quantize")
    return GraphPart(data, quantized, parity, example,
                     None if tokenizer is None else tokenizer.decode("utf-8"))


def graph_parity(source: Any, copy: Any, example: Any) -> dict[str, Any]:
    """How far ``copy`` answers from ``source`` on ``example``: on the prediction output,
    or a classifier's scores (with the share of labels that agree)."""
    ref, got = source.predict_outputs(example), copy.predict_outputs(example)
    name = "probabilities" if "probabilities" in ref else source.prediction_output
    a = np.asarray(ref[name], dtype=np.float64)
    b = np.asarray(got[name], dtype=np.float64)
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    spread = float(np.ptp(a)) or float(np.max(np.abs(a))) or 1.0
    parity = {"against": "imported graph", "output": name, "rows": len(a),
              "max_abs_diff": diff, "max_rel_error": diff / spread,
              "passed": diff / spread <= MAX_REL_ERROR}
    if "probabilities" in ref:
        parity["labels_agree"] = float(np.mean(ref["prediction"] == got["prediction"]))
    return parity
