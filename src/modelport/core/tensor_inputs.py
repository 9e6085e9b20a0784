"""Named tensor inputs: the signature kind of a graph trained elsewhere.

A tabular model takes one float matrix built from named columns; a deep-learning
graph takes several named tensors of their own dtype and rank — a recommender's
user and item ids, a text model's token ids and attention mask — some of whose
axes are dynamic (the batch, a sequence length). ``TensorSpec`` records each
input as the graph declares it, and ``check`` turns a request's tensors into a
``TensorBatch`` the graph can take, refusing with a message that names the
input: a missing or unknown name, a wrong rank, a fixed axis of the wrong size,
a dtype that would lose information, batch axes that disagree.

The batch is the first axis of every input: ``len(batch)`` is its size, so the
server's batcher counts, slices and joins a ``TensorBatch`` as it does a matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.errors import SchemaError

DYNAMIC = -1  # an axis without a fixed size and without a name


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # a NumPy dtype name: int64, float32, bool …
    shape: list[int | str]  # a size, DYNAMIC, or the graph's name for a dynamic axis

    @property
    def rank(self) -> int:
        return len(self.shape)

    def check(self, values: Any) -> np.ndarray:
        """``values`` as this input's array, or a SchemaError naming the input."""
        target = np.dtype(self.dtype)
        try:
            arr = values if isinstance(values, np.ndarray) else np.asarray(values)
        except ValueError:
            raise SchemaError(f"input {self.name!r} is ragged: every row needs the same "
                              "shape") from None
        if arr.ndim != self.rank:
            raise SchemaError(f"input {self.name!r} needs {self.rank} dimension(s) "
                              f"{shape_text(self.shape)}, got shape {list(arr.shape)}")
        for axis, (want, got) in enumerate(zip(self.shape, arr.shape, strict=True)):
            if isinstance(want, int) and want >= 0 and want != got:
                raise SchemaError(f"input {self.name!r} axis {axis} must have size {want}, "
                                  f"got {got}")
        if arr.dtype != target:
            if arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, target, "same_kind"):
                raise SchemaError(f"input {self.name!r} takes {self.dtype}, got "
                                  f"{arr.dtype.name if arr.dtype.kind != 'O' else 'text'}")
            cast = arr.astype(target)
            if arr.dtype.kind in "iu" and target.kind in "iu" and not np.array_equal(cast, arr):
                raise SchemaError(f"input {self.name!r}: a value does not fit {self.dtype}")
            arr = cast
        return np.ascontiguousarray(arr)


def shape_text(shape: Sequence[int | str]) -> str:
    """A shape as people read it: ``[?, 3]`` for a dynamic batch of 3 values."""
    return "[" + ", ".join("?" if d == DYNAMIC else str(d) for d in shape) + "]"


class TensorBatch:
    """Checked named tensors sharing their first (batch) axis.

    ``pads``: for token sequences, the value that fills each input's second axis
    (the pad id, a 0 mask), so requests of different lengths join into one batch
    padded to the longest — without it, tensors must match beyond the batch axis."""

    __slots__ = ("arrays", "pads", "rows")

    def __init__(self, arrays: dict[str, np.ndarray], pads: dict[str, int] | None = None
                 ) -> None:
        self.arrays = arrays
        self.pads = pads
        first = next(iter(arrays.values()))
        self.rows = len(first) if first.ndim else 1

    def __len__(self) -> int:
        return self.rows

    @property
    def width(self) -> int:
        """The padded sequence length of token tensors (0 when nothing is padded): what
        the batcher buckets requests by."""
        if not self.pads:
            return 0
        return int(self.arrays[next(iter(self.pads))].shape[1])

    def __getitem__(self, index: slice) -> TensorBatch:
        return TensorBatch({k: v[index] for k, v in self.arrays.items()}, self.pads)

    @staticmethod
    def join(parts: Sequence[TensorBatch]) -> TensorBatch:
        """One batch of several requests' rows (a ValueError when a dynamic axis differs
        and cannot be padded: the batcher then runs them one by one)."""
        pads = parts[0].pads
        if pads is None:
            return TensorBatch({k: np.concatenate([p.arrays[k] for p in parts])
                                for k in parts[0].arrays})
        width = max(p.arrays[k].shape[1] for p in parts for k in pads)
        return TensorBatch({k: np.concatenate([_pad(p.arrays[k], width, pads[k])
                                               for p in parts]) for k in pads}, pads)


def _pad(arr: np.ndarray, width: int, value: int) -> np.ndarray:
    if arr.shape[1] == width:
        return arr
    return np.pad(arr, ((0, 0), (0, width - arr.shape[1])), constant_values=value)


def _instance(specs: Sequence[TensorSpec], part: Mapping[str, Any]) -> Mapping[str, Any]:
    """One element of a list of mappings: KServe v1's ``instances`` are single rows, whose
    tensors lack the batch axis (one dimension fewer than the input's) — given it here."""
    ranks = {s.name: s.rank for s in specs}
    return {k: [v] if k in ranks and np.ndim(v) == ranks[k] - 1 else v
            for k, v in part.items()}


def check(specs: Sequence[TensorSpec], batch: Any) -> TensorBatch:
    """A request's tensors (a mapping of input name to values, or a list of such
    mappings — whole batches, or single rows without the batch axis — joined along the
    batch axis) checked against ``specs``."""
    if isinstance(batch, TensorBatch):
        return batch
    if isinstance(batch, list) and batch and all(isinstance(b, Mapping) for b in batch):
        parts = [check(specs, _instance(specs, b)) for b in batch]
        try:
            return parts[0] if len(parts) == 1 else TensorBatch.join(parts)
        except ValueError:
            raise SchemaError("the examples' tensors differ in shape beyond the batch "
                              "axis") from None
    if not isinstance(batch, Mapping):
        names = ", ".join(s.name for s in specs)
        raise SchemaError(f"this model takes named tensors ({names}) — send one per input")
    unknown = sorted(str(k) for k in batch if k not in {s.name for s in specs})
    if unknown:
        raise SchemaError(f"unknown input {unknown[0]!r} — this model takes "
                          f"{', '.join(s.name for s in specs)}")
    missing = [s.name for s in specs if s.name not in batch]
    if missing:
        raise SchemaError(f"missing input {missing[0]!r} — this model takes "
                          f"{', '.join(s.name for s in specs)}")
    arrays = {s.name: s.check(batch[s.name]) for s in specs}
    sizes = {name: arr.shape[0] for name, arr in arrays.items() if arr.ndim}
    if len(set(sizes.values())) > 1:
        raise SchemaError("inputs disagree on the batch size: " +
                          ", ".join(f"{k} has {v}" for k, v in sizes.items()))
    return TensorBatch(arrays)
