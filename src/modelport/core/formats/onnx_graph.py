"""Serving an ONNX graph trained elsewhere: named tensors in, the graph's outputs out.

A tabular ONNX model (``onnx.OnnxPredictor``) is one matrix in, a prediction
out. A graph exported from PyTorch, TensorFlow or Hugging Face takes several
named tensors and answers with its own named outputs; its signature says so
(``Signature.tensors``), read from the graph when it is imported, and the
format picks this predictor once, when the version loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.core.formats.base import Predictor
from modelport.core.signature import OutputSpec, Signature
from modelport.core.tensor_inputs import DYNAMIC, TensorBatch, TensorSpec, check
from modelport.errors import SchemaError, UnsafeArtifactError, first_line

# ONNX element types as onnxruntime names them, to NumPy's names
_DTYPES = {
    "tensor(float)": "float32", "tensor(double)": "float64", "tensor(float16)": "float16",
    "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int16)": "int16",
    "tensor(int8)": "int8", "tensor(uint8)": "uint8", "tensor(uint16)": "uint16",
    "tensor(uint32)": "uint32", "tensor(uint64)": "uint64", "tensor(bool)": "bool",
}


def graph_signature(session: Any, classes: list[str] | None = None) -> Signature:
    """The tensor signature of a loaded graph: each input's name, dtype and shape, a
    dynamic axis kept under the graph's own name for it (``batch``, ``sequence``)."""
    tensors = [TensorSpec(i.name, _dtype(i), _shape(i.shape)) for i in session.get_inputs()]
    outputs = [OutputSpec(o.name, _DTYPES.get(o.type, "object"),
                          [d if isinstance(d, int) else DYNAMIC for d in o.shape or []])
               for o in session.get_outputs()]
    return Signature(inputs=[], outputs=outputs, classes=classes, tensors=tensors)


def _dtype(arg: Any) -> str:
    dtype = _DTYPES.get(arg.type)
    if dtype is None:
        raise UnsafeArtifactError(f"graph input {arg.name!r} has type {arg.type}: modelport "
                                  f"serves numeric and bool tensors ({', '.join(_DTYPES)})")
    return dtype


def _shape(shape: Any) -> list[int | str]:
    return [d if isinstance(d, int) and d >= 0 else d if isinstance(d, str) and d else DYNAMIC
            for d in shape or []]


class GraphPredictor(Predictor):
    """Runs a graph on a checked ``TensorBatch``; answers every output by its name."""

    runtime = "onnx"

    def __init__(self, session: Any, signature: Signature) -> None:
        super().__init__(signature)
        assert signature.tensors is not None
        self.session = session
        self._specs = signature.tensors
        self._outputs = [o.name for o in session.get_outputs()]
        self.prediction_output = self._outputs[0]

    def matrix(self, batch: Any) -> Any:
        return check(self._specs, batch)

    def outputs_of_matrix(self, x: Any) -> dict[str, np.ndarray]:
        batch: TensorBatch = x
        try:
            values = self.session.run(self._outputs, batch.arrays)
        except Exception as exc:  # onnxruntime's own error types; a checked input's values
            # the graph refuses (an id past an embedding's rows) are the caller's
            if type(exc).__name__ in ("InvalidArgument", "Fail", "RuntimeException"):
                raise SchemaError(f"the graph refused this input: {first_line(exc)}") from None
            raise
        return {name: np.asarray(v) for name, v in zip(self._outputs, values, strict=True)}

    def predict_matrix(self, x: Any) -> np.ndarray:
        return self.outputs_of_matrix(x)[self._outputs[0]]
