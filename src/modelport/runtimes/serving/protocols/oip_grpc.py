"""Open Inference Protocol over gRPC: request messages to tensors, outputs to a response.

The same decoding rules as the HTTP binary extension (``tensors``): a datatype
from the allow-list, a shape of at most 8 non-negative dimensions, a payload
whose size the shape and datatype fix exactly. Input data comes either as
``raw_input_contents`` (what ``tritonclient.grpc`` sends by default) or as the
typed ``contents`` fields; outputs always go back raw, as Triton answers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError
from modelport.runtimes.serving.protocols.grpc_messages import TYPES
from modelport.runtimes.serving.tensors import (
    check_shape,
    datatype_of,
    dtype_for,
    from_binary,
    to_binary,
)

ModelInferResponse = TYPES["ModelInferResponse"]

# the typed field each datatype's values travel in when they are not sent raw
_CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents",
             "INT32": "int_contents", "INT64": "int64_contents", "UINT8": "uint_contents",
             "UINT16": "uint_contents", "UINT32": "uint_contents", "UINT64": "uint64_contents",
             "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents"}


def tensors_of(request: Any) -> dict[str, np.ndarray]:
    """The request's input tensors by name, each in the shape it was sent."""
    inputs, raw = request.inputs, request.raw_input_contents
    if not inputs:
        raise InvalidInputError("'inputs' must name at least one tensor")
    if raw and len(raw) != len(inputs):
        raise InvalidInputError(f"raw_input_contents has {len(raw)} entries for "
                                f"{len(inputs)} inputs: one per input, in order")
    tensors: dict[str, np.ndarray] = {}
    for i, tensor in enumerate(inputs):
        name = tensor.name
        if name in tensors:
            raise InvalidInputError(f"input {name!r} is given twice")
        shape = check_shape(list(tensor.shape), name)
        dtype = dtype_for(tensor.datatype, name)
        if raw:
            tensors[name] = from_binary(memoryview(raw[i]), shape, dtype, name)
        else:
            tensors[name] = _from_contents(tensor, shape, dtype)
    return tensors


def _from_contents(tensor: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    name, datatype = tensor.name, tensor.datatype
    field = _CONTENTS.get(datatype)
    if field is None:  # FP16 has no typed field
        raise InvalidInputError(f"input {name!r}: {datatype} data must be sent as "
                                "raw_input_contents")
    values = getattr(tensor.contents, field)
    expected = math.prod(shape)
    if len(values) != expected:
        raise InvalidInputError(f"input {name!r}: shape {list(shape)} needs {expected} values, "
                                f"{field} has {len(values)}")
    if dtype.kind == "O":
        return np.array(list(values), dtype=object).reshape(shape)
    wide = np.asarray(values)
    arr = wide.astype(dtype)
    if dtype.kind in "iu" and wide.size and not np.array_equal(arr, wide):
        raise InvalidInputError(f"input {name!r}: a value does not fit {datatype}")
    return arr.reshape(shape)


def requested(request: Any, outputs: dict[str, np.ndarray]) -> list[str]:
    """The outputs to answer: those the request names, or every one."""
    if not request.outputs:
        return list(outputs)
    names = [item.name for item in request.outputs]
    for name in names:
        if name not in outputs:
            raise InvalidInputError(f"unknown output {name!r} — this model gives "
                                    f"{', '.join(outputs)}")
    return names


def render(request: Any, outputs: dict[str, np.ndarray], name: str, version: str) -> Any:
    """The response: each wanted output's metadata, its data in ``raw_output_contents``."""
    response = ModelInferResponse(model_name=name, model_version=version, id=request.id)
    for output in requested(request, outputs):
        arr = outputs[output]
        response.outputs.add(name=output, datatype=datatype_of(arr), shape=arr.shape)
        response.raw_output_contents.append(to_binary(arr))
    return response
