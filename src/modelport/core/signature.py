"""Signatures: the columns a model takes and the outputs it gives.

Inferred from training data, stored on every model version, and enforced on
every prediction: a batch is checked and turned into the one float matrix the
model expects, with errors that name the offending column. Checking here,
once, lets every runtime (serving, batch, stream, edge) skip its own checks.

Text columns are categorical: the signature keeps the categories seen in
training (``ColumnSpec.categories``, dtype ``"string"``) and the matrix holds
each value's code — its position in that list. A value never seen in training
is ``UNKNOWN`` (-1), a missing one NaN. So every runtime still receives one
float matrix, and the model decides what a code means (one-hot columns for
linear models and k-NN, ordered codes for trees and boosters — see
``lifecycle/preprocessing.py``). A numeric 2-D array is taken as already coded
(what ``to_matrix`` returns); anything holding text is read as values.

Missing values (JSON null, NaN) reach the model only if it takes them
(``Signature.takes_missing``, found when the model is registered): a model
that cannot would answer them with a confident, wrong prediction, so the batch
is refused naming the column. An infinite value is never a feature value (an
FP32 overflow, 1e39 sent as FP32, arrives as one): it is refused for every
model. One vectorized ``isfinite`` over the checked matrix pays for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from modelport.core.tensor_inputs import TensorSpec
from modelport.core.text_inputs import TEXT, TextSpec
from modelport.errors import InvalidInputError, SchemaError
from modelport_edge.matrix import RowError, all_finite, refused, rows_to_columns

NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float
_KIND_NAMES = {"b": "bool", "i": "integer", "u": "integer", "f": "float"}
STRING = "string"  # the dtype of a categorical (text) column
UNKNOWN = -1.0  # the code of a category not seen in training
# more distinct values than this is an identifier or free text, not a category: one-hot
# columns for each would swamp the model and the signature
MAX_CATEGORIES = 1000


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str  # a NumPy dtype name (float64, int64, bool …) or "string" for a category
    categories: list[str] | None = None  # a "string" column's training values, by code

    @cached_property
    def codes(self) -> dict[str, float]:
        """Category -> code, built once (servers encode on every request)."""
        return {c: float(i) for i, c in enumerate(self.categories or ())}

    def encode(self, values: Any) -> np.ndarray:
        """The codes of one column of category values (text, numbers or bools)."""
        if hasattr(values, "to_pylist") and hasattr(values, "type"):
            values = values.to_pylist()  # Arrow: dictionary-encoded arrays decode here
        arr = _as_array(values, self.name)
        if arr.ndim != 1:
            raise SchemaError(f"column {self.name!r} must be one value per row")
        codes = self.codes
        try:
            return np.array([codes[v] if v in codes else _code(v, codes)
                             for v in arr.tolist()], dtype=np.float64)
        except TypeError:  # an unhashable value: a list or an object in a cell
            raise SchemaError(f"column {self.name!r} expects one text value per row") from None


def _code(value: Any, codes: dict[str, float]) -> float:
    if _missing(value) or (isinstance(value, float) and value != value):
        return np.nan
    return codes.get(_label(value), UNKNOWN)


def _label(value: Any) -> str:
    """A category value as the text the signature keeps: training and serving agree
    whether a client sends "3", 3 or b"3"."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)


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
    # whether the model answers a missing value (NaN) itself — an imputer or a tree that
    # routes it; False refuses NaN at the door; None (a signature from data alone, or one
    # stored before this was recorded) lets NaN through as before
    takes_missing: bool | None = None
    # a graph imported from elsewhere takes named tensors instead of columns
    # (``core/tensor_inputs``); None for every tabular model, whose path never looks at it
    tensors: list[TensorSpec] | None = None
    # a text model's tokenizer and limits (``core/text_inputs``): clients send raw text
    text: TextSpec | None = None

    @cached_property
    def names(self) -> list[str]:
        """Input column names (computed once: servers ask on every request)."""
        return [c.name for c in self.inputs]

    @cached_property
    def columns(self) -> list[str]:
        """The columns a file or an event must hold for this model: a text model's
        ``text``, a graph's tensor names, a tabular model's inputs."""
        if self.text is not None:
            return [TEXT]
        if self.tensors is not None:
            return [t.name for t in self.tensors]
        return self.names

    @cached_property
    def categorical(self) -> bool:
        """Whether any input is a category column (numeric models skip the text path)."""
        return any(c.categories is not None for c in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for column in data["inputs"]:  # numeric columns are stored as they always were
            if column["categories"] is None:
                del column["categories"]
        if data["takes_missing"] is None:
            del data["takes_missing"]
        for key in ("tensors", "text"):
            if data[key] is None:
                del data[key]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        if not isinstance(data, Mapping) or not isinstance(data.get("inputs"), list):
            # stored data from whoever registered the version: refuse it, do not crash on it
            raise InvalidInputError("the version's signature is unreadable: it names no "
                                    "input columns")
        return cls(
            inputs=[ColumnSpec(**c) for c in data["inputs"]],
            outputs=[OutputSpec(**o) for o in data.get("outputs", [])],
            classes=data.get("classes"),
            takes_missing=data.get("takes_missing"),
            tensors=None if data.get("tensors") is None
            else [TensorSpec(**t) for t in data["tensors"]],
            text=None if data.get("text") is None else TextSpec(**data["text"]),
        )

    @classmethod
    def infer(cls, frame: Any, classes: Sequence[Any] | None = None,
              prediction_dtype: str = "float64",
              inputs: Sequence[ColumnSpec] | None = None) -> Signature:
        """The signature of a model trained on ``frame`` (a pandas DataFrame).

        ``inputs`` (from ``infer_inputs`` on all the data, before a split) keeps a
        category that only the held-out rows have."""
        inputs = list(inputs) if inputs is not None else cls.infer_inputs(frame)
        outputs = [OutputSpec("prediction", prediction_dtype, [-1])]
        if classes is not None:
            outputs.append(OutputSpec("probabilities", "float64", [-1, len(classes)]))
            classes = [_plain(c) for c in classes]
        return cls(inputs=inputs, outputs=outputs, classes=list(classes) if classes else None)

    @staticmethod
    def infer_inputs(frame: Any) -> list[ColumnSpec]:
        """The input columns of ``frame``.

        Text, category and object columns become categorical; a column with no
        value at all, or with more than ``MAX_CATEGORIES`` distinct texts, is
        refused: neither can teach a model anything."""
        inputs = []
        for name, dtype in frame.dtypes.items():
            column = frame[name]
            if len(column) and column.isna().all():
                raise SchemaError(f"column {name!r} has no values (every row is missing) — "
                                  "drop it or fill it before training")
            # pandas extension dtypes (Int64, boolean, string…) carry a NumPy kind too
            kind = getattr(dtype, "kind", "O")
            if kind in NUMERIC_KINDS and type(dtype).__name__ != "CategoricalDtype":
                np_dtype = np.dtype(getattr(dtype, "numpy_dtype", dtype))
                inputs.append(ColumnSpec(str(name), np_dtype.name))
            elif kind in "OSU":
                inputs.append(ColumnSpec(str(name), STRING, _categories(name, column)))
            else:
                raise SchemaError(
                    f"column {name!r} has dtype {dtype}, which the model cannot take — "
                    "feature columns must be numbers, bools or text; convert it first")
        return inputs

    def to_matrix(self, batch: Any, dtype: Any = np.float64, check: bool = True) -> np.ndarray:
        """Check ``batch`` against the inputs and return a C-contiguous 2-D matrix.

        Accepts a pandas DataFrame, a pyarrow Table or RecordBatch, a mapping of
        column name to values, a list of row mappings, or a 2-D array whose
        columns are in signature order. Extra columns are ignored. A missing value is
        refused when the model cannot take it, an infinite one always — unless
        ``check`` is False: a batch job sets such rows aside one by one (``refused``).
        """
        try:
            x = self._matrix(batch, dtype)
        except RuntimeWarning:  # warnings as errors: a number too large for float32
            with np.errstate(over="ignore"):  # becomes inf, refused below
                x = self._matrix(batch, dtype)
        if check and not all_finite(x):  # one pass on the hot path; the rest on bad input
            first = next(iter(self.refused(x).items()), None)
            if first is not None:
                raise SchemaError(first[1].replace(" — ", f" in row {first[0]} — ", 1))
        return x

    def refused(self, x: np.ndarray) -> dict[int, str]:
        """The rows of ``x`` the model must not get, each with its reason: an infinite
        value, or a missing one when the model cannot take missing values (the device
        runtime's own check, shared: ``modelport_edge.matrix``)."""
        return refused(x, self.names, self.takes_missing)

    def _matrix(self, batch: Any, dtype: Any) -> np.ndarray:
        if isinstance(batch, np.ndarray):
            return self._from_array(batch, dtype)
        if isinstance(batch, list):
            if batch and isinstance(batch[0], Mapping):
                try:
                    return self._from_columns(rows_to_columns(batch, self.names), dtype)
                except RowError as exc:
                    raise SchemaError(str(exc)) from None
            self._check_row_lengths(batch)
            return self._from_array(_as_array(batch), dtype)
        columns = _columns_of(batch)
        if columns is None:
            raise SchemaError(
                f"cannot read a batch of type {type(batch).__name__} — pass a DataFrame, "
                "an Arrow table, a dict of columns, a list of rows or a 2-D array"
            )
        return self._from_columns(columns, dtype)

    def _check_row_lengths(self, rows: list[Any]) -> None:
        if not rows or not isinstance(rows[0], list | tuple):
            return
        n = len(self.inputs)
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple) or len(row) != n:
                got = f"{len(row)} values" if isinstance(row, list | tuple) else repr(row)
                raise SchemaError(f"row {i} has {got}, expected {n} ({self._some_names()})")

    def _some_names(self) -> str:
        return ", ".join(self.names[:5]) + (", …" if len(self.inputs) > 5 else "")

    def _from_array(self, arr: np.ndarray, dtype: Any) -> np.ndarray:
        if arr.ndim == 1:  # a single row: checked for its width below like any other
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise SchemaError(
                f"expected a 2-D batch of rows, got an array with {arr.ndim} dimension(s)")
        if arr.shape[1] != len(self.inputs):
            raise SchemaError(
                f"expected {len(self.inputs)} columns ({self._some_names()}), got {arr.shape[1]}")
        if arr.dtype.kind not in NUMERIC_KINDS:
            if self.categorical:  # rows holding text: read column by column
                return self._from_columns({s.name: arr[:, j] for j, s in enumerate(self.inputs)},
                                          dtype)
            for j, spec in enumerate(self.inputs):
                _check_column(spec, _as_array(arr[:, j].tolist()))
        return np.ascontiguousarray(arr, dtype=dtype)

    def _from_columns(self, columns: Mapping[str, Any], dtype: Any) -> np.ndarray:
        missing = [c.name for c in self.inputs if c.name not in columns]
        if missing:
            raise SchemaError(f"missing column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(repr(m) for m in missing)}")
        arrays = [_check_column(spec, _as_array(columns[spec.name], spec.name))
                  if spec.categories is None else spec.encode(columns[spec.name])
                  for spec in self.inputs]
        rows = len(arrays[0]) if arrays else 0
        for spec, arr in zip(self.inputs, arrays, strict=True):
            if len(arr) != rows:
                raise SchemaError(
                    f"column {spec.name!r} has {len(arr)} values but column "
                    f"{self.inputs[0].name!r} has {rows} — every column needs one value per row")
        out = np.empty((rows, len(arrays)), dtype=dtype)
        for j, arr in enumerate(arrays):
            out[:, j] = arr
        return out


def _categories(name: Any, column: Any) -> list[str]:
    values = sorted({_label(v) for v in column.dropna().unique()})
    if len(values) > MAX_CATEGORIES:
        raise SchemaError(
            f"column {name!r} has {len(values):,} distinct values — more than {MAX_CATEGORIES:,} "
            "is an identifier or free text, not a category; leave it out with "
            f"--drop {name} (drop=[{name!r}] in Python)")
    return values


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_array(values: Any, column: str | None = None) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "to_numpy"):
        # pandas Series (nullable dtypes give NaN or NA for NA) or pyarrow arrays
        try:
            return values.to_numpy(zero_copy_only=False)
        except TypeError:
            return values.to_numpy()
    try:
        arr = np.asarray(values)
    except ValueError:  # nested lists of different lengths
        where = f"column {column!r}" if column is not None else "the batch"
        raise SchemaError(f"{where} must hold one number per row, not nested lists") from None
    # NumPy turns [1, "x"] into ["1", "x"]: keep the values as they came, so an error
    # can quote the one that is wrong
    return np.array(values, dtype=object) if arr.dtype.kind in "US" else arr


def _check_column(spec: ColumnSpec, arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 0:
        raise SchemaError(f"column {spec.name!r} must be a list with one value per row, "
                          f"got the single value {arr.item()!r}")
    if arr.ndim != 1:
        raise SchemaError(f"column {spec.name!r} must be one value per row")
    if arr.dtype.kind in NUMERIC_KINDS:
        return arr
    expects = f"column {spec.name!r} expects {_kind(spec.dtype)} values"
    values = arr.tolist()
    # JSON nulls and Python numbers mixed: accept numbers, None and pandas.NA (as NaN)
    # only — a string is refused even when it reads as a number
    bad = next((v for v in values if not _missing(v) and not _is_number(v)), _NONE)
    if bad is not _NONE or arr.dtype.kind != "O":
        raise SchemaError(f"{expects}, got {(values[0] if bad is _NONE else bad)!r}")
    try:
        return np.array([np.nan if _missing(v) else v for v in values], dtype=np.float64)
    except OverflowError:
        raise SchemaError(f"{expects}, got a number too large for a float") from None


_NONE = object()


def _missing(value: Any) -> bool:
    return value is None or type(value).__name__ == "NAType"  # JSON null, pandas.NA


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number | np.bool_)


def _kind(dtype: str) -> str:
    return _KIND_NAMES.get(np.dtype(dtype).kind, dtype)


def _columns_of(batch: Any) -> Mapping[str, Any] | None:
    if isinstance(batch, Mapping):
        return batch
    if hasattr(batch, "column_names") and hasattr(batch, "column"):  # pyarrow Table / RecordBatch
        return {name: batch.column(name) for name in batch.column_names}
    if hasattr(batch, "columns") and hasattr(batch, "__getitem__"):  # pandas DataFrame
        return {str(c): batch[c] for c in batch.columns}
    return None
