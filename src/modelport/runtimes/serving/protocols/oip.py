"""Open Inference Protocol v2 (Triton, KServe v2, MLServer), with binary tensors.

Inputs are one 2-D tensor ``[rows, columns]`` in signature order, or one
tensor per column named after it — the way to send a text (category) column,
as a ``BYTES`` tensor, JSON strings or binary. Outputs are ``prediction`` and, for
classifiers, ``probabilities``; a client asking for binary outputs — as
``tritonclient`` does by default — gets them after the JSON header.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from modelport.config import VERSION
from modelport.errors import InvalidInputError
from modelport.runtimes.serving.http import Request, Response, json_response
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.tensors import (
    check_shape,
    datatype_of,
    dtype_for,
    from_binary,
    from_json,
    to_binary,
    to_json_data,
)

HEADER_LENGTH = "inference-header-content-length"
EXTENSIONS = ["binary_tensor_data"]


def server_metadata() -> Response:
    return json_response({"name": "modelport", "version": VERSION, "extensions": EXTENSIONS,
                          "openapi": "/v2/openapi.json"})


def model_metadata(served: Served, name: str) -> Response:
    return json_response(metadata_of(served, name))


def metadata_of(served: Served, name: str) -> dict[str, Any]:
    """A model's metadata document, the same over HTTP and gRPC."""
    sig = served.model.signature
    width = len(sig.inputs)
    dtype = "FP32" if served.runtime == "onnx" else "FP64"
    outputs = []
    for out in sig.outputs:
        datatype = datatype_of(np.empty(0, dtype=out.dtype)) if out.dtype != "object" else "BYTES"
        outputs.append({"name": out.name, "datatype": datatype, "shape": out.shape})
    inputs: list[dict[str, Any]] = [{"name": "input", "datatype": dtype, "shape": [-1, width],
                                     "parameters": {"columns": sig.names}}]
    if sig.text is not None:  # raw text, tokenized by the server
        inputs = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    elif sig.tensors is not None:  # a graph's own named tensors, dynamic axes as -1
        inputs = [{"name": t.name, "datatype": datatype_of(np.empty(0, dtype=t.dtype)),
                   "shape": [d if isinstance(d, int) else -1 for d in t.shape]}
                  for t in sig.tensors]
    elif sig.categorical:  # text does not fit one numeric tensor: one tensor per column
        inputs = [{"name": c.name, "datatype": "BYTES" if c.categories is not None else dtype,
                   "shape": [-1]} for c in sig.inputs]
    return {"name": name, "versions": [served.version_text], "platform": served.runtime,
            "inputs": inputs, "outputs": outputs}


def model_ready(name: str) -> Response:
    return json_response({"name": name, "ready": True})


def parse_request(request: Request) -> tuple[dict[str, Any], memoryview | None]:
    """The JSON header of an infer request and the binary part after it, if any."""
    length = request.headers.get(HEADER_LENGTH)
    if length is None:
        return _object(request.json()), None
    if not length.isdigit() or int(length) > len(request.body):
        raise InvalidInputError(f"{HEADER_LENGTH} {length!r} does not fit a body of "
                                f"{len(request.body)} bytes")
    n = int(length)
    try:
        header = orjson.loads(request.body[:n])
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON header: {exc}") from None
    return _object(header), memoryview(request.body)[n:]


def read(request: Request, columns: list[str], named_tensors: bool = False
         ) -> tuple[Any, dict[str, Any]]:
    """The request's rows, and its JSON header (which the answer is rendered against).
    ``named_tensors``: the model takes its inputs as named tensors, each kept as sent."""
    doc, binary = parse_request(request)
    if named_tensors:
        return tensors_of(doc, binary), doc
    return batch_of(doc, binary, columns), doc


def _object(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise InvalidInputError("an inference request must be a JSON object with 'inputs'")
    return doc


def batch_of(doc: dict[str, Any], binary: memoryview | None, columns: list[str]) -> Any:
    """The request's rows: a 2-D array, or a mapping of column name to 1-D array."""
    return rows_of(tensors_of(doc, binary), columns)


def rows_of(tensors: dict[str, np.ndarray], columns: list[str]) -> Any:
    """Tensors as rows: one 2-D tensor as sent, or one 1-D tensor per column."""
    if len(tensors) == 1:
        (name, arr), = tensors.items()
        if arr.ndim == 2 or name not in columns:
            return arr if arr.ndim != 1 else arr.reshape(1, -1)
    flat = {}
    for name, arr in tensors.items():
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise InvalidInputError(f"input {name!r}: a per-column tensor must have shape [rows] "
                                    f"or [rows, 1], got {list(arr.shape)}")
        flat[name] = arr
    return flat


def tensors_of(doc: dict[str, Any], binary: memoryview | None) -> dict[str, np.ndarray]:
    """The request's input tensors by name, each in the shape it was sent."""
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInputError("'inputs' must be a non-empty array of tensors")
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for item in inputs:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInputError("each input needs a 'name', 'shape', 'datatype' and 'data'")
        name = item["name"]
        shape = check_shape(item.get("shape"), name)
        dtype = dtype_for(item.get("datatype"), name)
        params = item.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if binary is None or not isinstance(size, int) or size < 0 \
                    or offset + size > len(binary):
                raise InvalidInputError(f"input {name!r}: binary_data_size {size!r} does not "
                                        "fit the binary part of the body")
            tensors[name] = from_binary(binary[offset:offset + size], shape, dtype, name)
            offset += size
        else:
            tensors[name] = from_json(item.get("data"), shape, dtype, name)
    return tensors


def render(doc: dict[str, Any], served: Served, outputs: dict[str, np.ndarray], name: str
           ) -> Response:
    # the common request names no outputs and no parameters: every output, as JSON
    wanted = _wanted(doc, outputs) if "outputs" in doc or "parameters" in doc else \
        dict.fromkeys(outputs, False)
    body_outputs, blobs = [], []
    for output, binary in wanted.items():
        arr = outputs[output]
        entry: dict[str, Any] = {"name": output, "datatype": datatype_of(arr),
                                 "shape": list(arr.shape)}
        if binary:
            blob = to_binary(arr)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = to_json_data(arr)
        body_outputs.append(entry)
    result: dict[str, Any] = {"model_name": name, "model_version": served.version_text,
                              "outputs": body_outputs}
    if "id" in doc and isinstance(doc["id"], str):
        result["id"] = doc["id"]
    header = orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return Response(200, header)
    return Response(200, header + b"".join(blobs), b"application/octet-stream",
                    [(HEADER_LENGTH.encode(), str(len(header)).encode())])


def _wanted(doc: dict[str, Any], outputs: dict[str, np.ndarray]) -> dict[str, bool]:
    """Which outputs to answer, each as binary or not; every one as JSON by default."""
    requested = doc.get("outputs")
    params = doc.get("parameters")
    if not isinstance(params, dict):
        params = {}
    binary_default = bool(params.get("binary_data_output", False))
    if not isinstance(requested, list) or not requested:
        return dict.fromkeys(outputs, binary_default)
    wanted: dict[str, bool] = {}
    for item in requested:
        wanted_name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(wanted_name, str) or wanted_name not in outputs:
            raise InvalidInputError(f"unknown output {wanted_name!r} — this model gives "
                                    f"{', '.join(outputs)}")
        p = item.get("parameters") or {}
        wanted[wanted_name] = bool(p.get("binary_data", binary_default)) \
            if isinstance(p, dict) else binary_default
    return wanted
