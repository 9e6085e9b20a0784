"""Tensors as the Open Inference Protocol carries them: JSON data or binary blobs.

Binary data follows Triton's binary tensor data extension — little-endian,
row-major, BOOL as one byte, BYTES as a 4-byte length then the bytes — which
is what ``tritonclient`` sends by default.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError, SchemaError

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_BY_KIND = {("b", 1): "BOOL", ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32",
            ("u", 8): "UINT64", ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32",
            ("i", 8): "INT64", ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64"}


def prediction_rows(outputs: dict[str, np.ndarray]) -> Any:
    """The prediction among a model's outputs, one JSON value per row, for protocols that
    answer only it (KServe v1, MLflow): ``prediction``, or an imported graph's first
    output — what its ``Predictor.prediction_output`` names, without the predictor at
    hand. A ``[rows, n]`` output (an embedding) keeps its rows; ``[rows, 1]`` is flat."""
    arr = outputs["prediction"] if "prediction" in outputs else next(iter(outputs.values()))
    if arr.ndim > 1 and arr.size != len(arr) and arr.dtype.kind in "biuf":
        return np.ascontiguousarray(arr)
    return to_json_data(arr)


_BY_DTYPE: dict[np.dtype[Any], str] = {}


def datatype_of(arr: np.ndarray) -> str:
    datatype = _BY_DTYPE.get(arr.dtype)
    if datatype is None:
        datatype = _BY_DTYPE[arr.dtype] = _BY_KIND.get((arr.dtype.kind, arr.dtype.itemsize),
                                                        "BYTES")
    return datatype


def dtype_for(datatype: Any, name: str) -> np.dtype[Any]:
    dtype = DATATYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInputError(f"input {name!r}: unknown datatype {datatype!r} — use one of "
                                f"{', '.join(DATATYPES)}")
    return dtype


def check_shape(shape: Any, name: str) -> tuple[int, ...]:
    if isinstance(shape, list) and 0 < len(shape) <= 8:
        for d in shape:  # a loop, not all(<generator>): a frame less per request
            if type(d) is not int or d < 0:
                break
        else:
            return tuple(shape)
    raise InvalidInputError(f"input {name!r}: shape must be a list of non-negative integers, "
                            f"got {shape!r}")


def from_json(data: Any, shape: tuple[int, ...], dtype: np.dtype[Any], name: str) -> np.ndarray:
    """A tensor from JSON ``data`` (flat or nested, row-major)."""
    if not isinstance(data, list):
        raise InvalidInputError(f"input {name!r}: 'data' must be an array")
    try:
        arr = np.asarray(data, dtype=dtype if dtype.kind != "O" else None)
    except (ValueError, TypeError, OverflowError):
        raise SchemaError(f"input {name!r}: data does not fit datatype "
                          f"{datatype_of(np.empty(0, dtype)) if dtype.kind != 'O' else 'BYTES'}"
                          ) from None
    if dtype.kind == "O":
        arr = arr.astype(object)
    expected = math.prod(shape)
    if arr.size != expected:
        raise InvalidInputError(f"input {name!r}: shape {list(shape)} needs {expected} values, "
                                f"data has {arr.size}")
    return arr.reshape(shape)


def from_binary(raw: memoryview, shape: tuple[int, ...], dtype: np.dtype[Any], name: str
                ) -> np.ndarray:
    expected = math.prod(shape)
    if dtype.kind == "O":
        items, offset = [], 0
        while offset < len(raw):
            if offset + 4 > len(raw):
                raise InvalidInputError(f"input {name!r}: truncated BYTES element")
            (length,) = struct.unpack_from("<I", raw, offset)
            offset += 4
            items.append(bytes(raw[offset:offset + length]))
            offset += length
        if len(items) != expected or offset != len(raw):
            raise InvalidInputError(f"input {name!r}: shape {list(shape)} needs {expected} "
                                    f"BYTES elements, got {len(items)}")
        return np.array(items, dtype=object).reshape(shape)
    if len(raw) != expected * dtype.itemsize:
        raise InvalidInputError(f"input {name!r}: shape {list(shape)} of "
                                f"{datatype_of(np.empty(0, dtype))} needs "
                                f"{expected * dtype.itemsize} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def to_binary(arr: np.ndarray) -> bytes:
    if datatype_of(arr) != "BYTES":
        return np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    parts = []
    for item in arr.ravel():
        data = item if isinstance(item, bytes) else str(item).encode()
        parts.append(struct.pack("<I", len(data)) + data)
    return b"".join(parts)


def to_json_data(arr: np.ndarray) -> Any:
    """Flat row-major data: the array itself where orjson serialises it, else a list."""
    flat = arr.ravel()  # a contiguous view, or a contiguous copy
    if flat.dtype.kind in "biuf":
        return flat
    return [x.decode() if isinstance(x, bytes) else x for x in flat.tolist()]
