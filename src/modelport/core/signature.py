"""Signatures: the columns a model takes and the outputs it gives.

Inferred from training data, stored on every model version, and enforced on
every prediction: a batch is checked and turned into the one float matrix the
model expects, with errors that name the offending column. Checking here,
once, lets every runtime (serving, batch, stream, edge) skip its own checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelport.errors import SchemaError

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
_KIND_NAMES = {"b": "bool", "i": "integer", "u": "integer", "f": "float"}


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str  # a NumPy dtype name: float64, int64, bool …


@dataclass(frozen=True)
class OutputSpec:
    name: str
    dtype: str
    shape: list[int]  # -1 for the batch dimension


@dataclass(frozen=True)
class Signature:
    inputs: list[ColumnSpec]
    outputs: list[OutputSpec] = field(default_factory=list)
    classes: list[Any] | None = None  # class labels, in the order of probability columns

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.inputs]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        return cls(
            inputs=[ColumnSpec(**c) for c in data["inputs"]],
            outputs=[OutputSpec(**o) for o in data.get("outputs", [])],
            classes=data.get("classes"),
        )

    @classmethod
    def infer(cls, frame: Any, classes: Sequence[Any] | None = None,
              prediction_dtype: str = "float64") -> Signature:
        """The signature of a model trained on ``frame`` (a pandas DataFrame)."""
        inputs = []
        for name, dtype in frame.dtypes.items():
            np_dtype = np.dtype(dtype) if not hasattr(dtype, "numpy_dtype") else dtype.numpy_dtype
            if np_dtype.kind not in NUMERIC_KINDS:
                raise SchemaError(
                    f"column {name!r} has dtype {dtype}, which the model cannot take — "
                    "only numeric and bool feature columns are supported; encode it first"
                )
            inputs.append(ColumnSpec(str(name), np_dtype.name))
        outputs = [OutputSpec("prediction", prediction_dtype, [-1])]
        if classes is not None:
            outputs.append(OutputSpec("probabilities", "float64", [-1, len(classes)]))
            classes = [_plain(c) for c in classes]
        return cls(inputs=inputs, outputs=outputs, classes=list(classes) if classes else None)

    def to_matrix(self, batch: Any, dtype: Any = np.float64) -> np.ndarray:
        """Check ``batch`` against the inputs and return a C-contiguous 2-D matrix.

        Accepts a pandas DataFrame, a pyarrow Table or RecordBatch, a mapping of
        column name to values, a list of row mappings, or a 2-D array whose
        columns are in signature order. Extra columns are ignored.
        """
        if isinstance(batch, np.ndarray):
            return self._from_array(batch, dtype)
        if isinstance(batch, list):
            if batch and isinstance(batch[0], Mapping):
                return self._from_columns(_rows_to_columns(batch, self.names), dtype)
            return self._from_array(_as_array(batch), dtype)
        columns = _columns_of(batch)
        if columns is None:
            raise SchemaError(
                f"cannot read a batch of type {type(batch).__name__} — pass a DataFrame, "
                "an Arrow table, a dict of columns, a list of rows or a 2-D array"
            )
        return self._from_columns(columns, dtype)

    def _from_array(self, arr: np.ndarray, dtype: Any) -> np.ndarray:
        if arr.ndim == 1 and len(self.inputs) > 0 and arr.shape[0] == len(self.inputs):
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise SchemaError(
                f"expected a 2-D batch of rows, got an array with {arr.ndim} dimension(s)")
        if arr.shape[1] != len(self.inputs):
            raise SchemaError(
                f"expected {len(self.inputs)} columns ({', '.join(self.names[:5])}"
                f"{', …' if len(self.inputs) > 5 else ''}), got {arr.shape[1]}"
            )
        if arr.dtype.kind not in NUMERIC_KINDS:
            for j, spec in enumerate(self.inputs):
                _check_column(spec, _as_array(arr[:, j].tolist()))
        return np.ascontiguousarray(arr, dtype=dtype)

    def _from_columns(self, columns: Mapping[str, Any], dtype: Any) -> np.ndarray:
        missing = [c.name for c in self.inputs if c.name not in columns]
        if missing:
            raise SchemaError(f"missing column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(repr(m) for m in missing)}")
        arrays = [_check_column(spec, _as_array(columns[spec.name])) for spec in self.inputs]
        lengths = {len(a) for a in arrays}
        if len(lengths) > 1:
            raise SchemaError(f"columns have different lengths: {sorted(lengths)}")
        out = np.empty((lengths.pop() if lengths else 0, len(arrays)), dtype=dtype)
        for j, arr in enumerate(arrays):
            out[:, j] = arr
        return out


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_array(values: Any) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "to_numpy"):
        # pandas Series (nullable dtypes give NaN for NA) or pyarrow arrays
        try:
            return values.to_numpy(zero_copy_only=False)
        except TypeError:
            return values.to_numpy()
    try:
        return np.asarray(values)
    except ValueError as exc:
        raise SchemaError(f"cannot read values as an array: {exc}") from None


def _check_column(spec: ColumnSpec, arr: np.ndarray) -> np.ndarray:
    if arr.ndim != 1:
        raise SchemaError(f"column {spec.name!r} must be one value per row")
    if arr.dtype.kind in NUMERIC_KINDS:
        return arr
    if arr.dtype.kind == "O":
        # JSON nulls and Python numbers mixed: accept numbers and None (as NaN) only
        try:
            return np.array([np.nan if v is None else v for v in arr], dtype=np.float64)
        except (TypeError, ValueError):
            bad = next(v for v in arr if v is not None and not isinstance(v, int | float))
            raise SchemaError(
                f"column {spec.name!r} expects {_kind(spec.dtype)} values, got {bad!r}"
            ) from None
    raise SchemaError(f"column {spec.name!r} expects {_kind(spec.dtype)} values, "
                      f"got {arr.dtype} values")


def _kind(dtype: str) -> str:
    return _KIND_NAMES.get(np.dtype(dtype).kind, dtype)


def _rows_to_columns(rows: list[Mapping[str, Any]], names: list[str]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {}
    for name in names:
        try:
            columns[name] = [row[name] for row in rows]
        except KeyError:
            raise SchemaError(f"missing column {name!r} in a row") from None
        except TypeError:
            raise SchemaError("every row must be an object of column: value") from None
    return columns


def _columns_of(batch: Any) -> Mapping[str, Any] | None:
    if isinstance(batch, Mapping):
        return batch
    if hasattr(batch, "column_names") and hasattr(batch, "column"):  # pyarrow Table / RecordBatch
        return {name: batch.column(name) for name in batch.column_names}
    if hasattr(batch, "columns") and hasattr(batch, "__getitem__"):  # pandas DataFrame
        return {str(c): batch[c] for c in batch.columns}
    return None
