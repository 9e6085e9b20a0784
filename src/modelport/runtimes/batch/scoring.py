"""Scoring one chunk: check it against the signature, predict, set bad rows aside.

Every chunk goes through the model's ``Predictor`` — ``predictor.matrix`` to
check and convert, ``predict`` / ``predict_outputs`` to answer — the same path
the server, the stream and the edge runtime use. A chunk that the model
rejects is narrowed down (rows with missing values first, then halves) until
only the rows at fault remain; with ``--on-error fail`` the first one stops
the job with its file and row number, with ``skip`` or ``quarantine`` it is
counted and, for quarantine, written aside with its reason. Nothing is dropped
without being counted.

Runs inside worker processes and Ray actors: everything here is picklable
data plus code that rebuilds the predictor from verified artifact bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.formats import Predictor, get_format
from modelport.core.signature import STRING, Signature
from modelport.errors import InvalidInputError, ModelportError, SchemaError, first_line
from modelport.runtimes.batch.reader import SET_ASIDE, BadLine, Chunk, Split, read_chunks

POLICIES = ("fail", "skip", "quarantine")
META_COLUMNS = ("_file", "_row", "_reason", "_line")


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to rebuild the predictor: bytes the registry verified."""

    format: str
    data: bytes
    signature: dict[str, Any]
    name: str
    version: int
    tokenizer: bytes | None = None  # a text model's tokenizer.json
    incarnation: str | None = None  # the version's life, stamped into its prediction log

    def load(self) -> Predictor:
        signature = Signature.from_dict(self.signature)
        predictor = get_format(self.format).load(self.data, signature)
        if self.tokenizer is not None:
            from modelport.core.formats.onnx_text import text_model

            predictor = text_model(getattr(predictor, "session", None), signature,
                                   self.tokenizer)
        predictor.name, predictor.version = self.name, self.version
        return predictor



@dataclass(frozen=True)
class ScoreOptions:
    batch_size: int
    keep: tuple[str, ...] = ()
    on_error: str = "fail"
    proba: bool = True
    log_sample: float = 0.0  # share of scored rows sent back for the prediction log


@dataclass
class ChunkResult:
    """One chunk's answer, written by the job loop as one committed part."""

    file: int
    split: int
    chunk: int
    rows: int  # rows predicted
    failed: int  # rows skipped or quarantined
    output: Any  # pyarrow.Table
    quarantine: Any | None  # pyarrow.Table of rejected rows, when quarantining
    logged: tuple[np.ndarray, np.ndarray] | None = None  # sampled (inputs, predictions)

    @property
    def part(self) -> str:
        return f"part-{self.file:05d}-{self.split:05d}-{self.chunk:05d}"


@dataclass
class SplitDone:
    file: int
    split: int


class Scorer:
    """Scores the chunks of splits with one predictor; one per worker, reused."""

    def __init__(self, spec: ModelSpec, options: ScoreOptions) -> None:
        self.predictor = spec.load()
        self.options = options
        self.features = self.predictor.signature.inputs
        names = [c.name for c in self.features]
        self.columns = names + [k for k in options.keep if k not in names]
        self.proba = options.proba and self.predictor.is_classifier

    def run(self, split: Split, skip: frozenset[int] = frozenset()) -> Iterator[ChunkResult]:
        text = [c.name for c in self.features] if split.kind == "csv" else []
        for chunk in read_chunks(split, self.columns, text, self.options.batch_size, skip,
                                 strict_lines=self.options.on_error == "fail"):
            yield self.score(split, chunk)

    def score(self, split: Split, chunk: Chunk) -> ChunkResult:
        import pyarrow as pa

        batch = chunk.batch
        rejected: dict[int, str] = {}  # row index in chunk -> reason
        features = {spec.name: self._column(batch, spec.name, spec.dtype, rejected)
                    for spec in self.features}
        good = np.ones(batch.num_rows, dtype=bool)
        if rejected:
            self._fail_fast(split, chunk, rejected)
            good[list(rejected)] = False
            mask = pa.array(good)
            features = {k: v.filter(mask) for k, v in features.items()}
        # rows with a missing value the model cannot take, or an infinite one, are set
        # aside one by one rather than failing the chunk
        signature = self.predictor.signature
        x = signature.to_matrix(features, self.predictor.input_dtype, check=False)
        refused = signature.refused(x)
        if refused:
            kept = np.flatnonzero(good)
            refused = {int(kept[i]): reason for i, reason in refused.items()}
            self._fail_fast(split, chunk, refused)
            rejected.update(refused)
            good[list(refused)] = False
            x = x[good[kept]]
        outputs, model_bad = self._predict(x, split, chunk, np.flatnonzero(good))
        if model_bad:
            rejected.update(model_bad)
            good[list(model_bad)] = False
        output = self._output(batch, good, outputs)
        quarantine = None
        if self.options.on_error == "quarantine" and (rejected or chunk.bad_lines):
            quarantine = self._quarantine(split, chunk, rejected, chunk.bad_lines)
        # a chunk the model refused rows of is not logged: its outputs no longer line up
        logged = self._sample(x, outputs) if self.options.log_sample > 0 and not model_bad \
            else None
        return ChunkResult(split.file, split.index, chunk.index, int(good.sum()),
                           len(rejected) + len(chunk.bad_lines), output, quarantine, logged)

    def _sample(self, x: np.ndarray, outputs: dict[str, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray]:
        """A random ``log_sample`` share of the scored rows: their inputs and predictions."""
        picked = np.random.default_rng().random(len(x)) < self.options.log_sample
        return x[picked], np.asarray(outputs["prediction"])[picked]

    # ------------------------------------------------------------ checking

    def _column(self, batch: Any, name: str, dtype: str, rejected: dict[int, str]) -> Any:
        """The column as a numeric Arrow array; text is parsed, unparsable values rejected.
        A category column goes as it is: the signature turns its values into codes."""
        import pyarrow as pa
        import pyarrow.compute as pc

        col = batch.column(name)
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if dtype == STRING:
            return col
        kind = np.dtype(dtype).kind
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or \
                pa.types.is_boolean(col.type) or pa.types.is_null(col.type):
            return col
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise SchemaError(f"column {name!r} holds {col.type} values but the model expects "
                              f"{'bool' if kind == 'b' else 'numeric'} values — convert it first")
        target = pa.bool_() if kind == "b" else pa.float64()
        try:
            return pc.cast(col, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        values = col.to_pylist()
        parsed: list[Any] = []
        for i, value in enumerate(values):
            number = None if value is None else _parse(value, kind == "b")
            if value is not None and number is None:
                rejected.setdefault(i, f"column {name!r} expects "
                                       f"{'a bool' if kind == 'b' else 'a number'}, "
                                       f"got {value!r}")
            parsed.append(number)
        return pa.array(parsed, type=target)

    def _fail_fast(self, split: Split, chunk: Chunk, rejected: dict[int, str]) -> None:
        if self.options.on_error == "fail":
            i = min(rejected)
            raise InvalidInputError(
                f"{split.url} row {chunk.first_row + i + 1}: {rejected[i]}{SET_ASIDE}")

    # ------------------------------------------------------------ predicting

    def _outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self.proba:
            return self.predictor.outputs_of_matrix(x)
        return {"prediction": self.predictor.predict_matrix(x)}

    def _predict(self, x: np.ndarray, split: Split, chunk: Chunk, rows: np.ndarray
                 ) -> tuple[dict[str, np.ndarray], dict[int, str]]:
        """Outputs for the rows the model takes, and the reasons for those it refuses
        (keyed by row index in the chunk)."""
        if len(x) == 0:
            return self._empty_outputs(), {}
        try:
            return self._outputs(x), {}
        except ModelportError:
            raise
        except Exception as exc:
            if self.options.on_error == "fail":
                where = (f"rows {chunk.first_row + 1}-{chunk.first_row + chunk.batch.num_rows}"
                         if len(rows) > 1 else f"row {chunk.first_row + 1}")
                raise InvalidInputError(f"{split.url} {where}: the model failed: "
                                        f"{first_line(exc)}{SET_ASIDE}") from None
        keep = np.ones(len(x), dtype=bool)
        bad: dict[int, str] = {}
        nonfinite = ~np.isfinite(x).all(axis=1)
        if nonfinite.any():
            names = [c.name for c in self.features]
            for i in np.flatnonzero(nonfinite):
                col = names[int(np.flatnonzero(~np.isfinite(x[i]))[0])]
                bad[int(rows[i])] = f"missing or infinite value in column {col!r}"
            keep &= ~nonfinite
        outputs: list[tuple[int, dict[str, np.ndarray]]] = []
        self._bisect(x, np.flatnonzero(keep), rows, outputs, bad)
        merged = {k: np.concatenate([o[k] for _, o in outputs]) for k in outputs[0][1]} \
            if outputs else self._empty_outputs()
        return merged, bad

    def _bisect(self, x: np.ndarray, idx: np.ndarray, rows: np.ndarray,
                out: list[tuple[int, dict[str, np.ndarray]]], bad: dict[int, str]) -> None:
        if len(idx) == 0:
            return
        try:
            out.append((int(idx[0]), self._outputs(x[idx])))
            return
        except ModelportError:
            raise
        except Exception as exc:
            if len(idx) == 1:
                bad[int(rows[idx[0]])] = f"the model failed: {first_line(exc)}"
                return
        half = len(idx) // 2
        self._bisect(x, idx[:half], rows, out, bad)
        self._bisect(x, idx[half:], rows, out, bad)

    def _empty_outputs(self) -> dict[str, np.ndarray]:
        classes = self.predictor.classes
        dtype = classes.dtype if classes is not None else np.float64
        out = {"prediction": np.empty(0, dtype=dtype)}
        if self.proba and classes is not None:
            out["probabilities"] = np.empty((0, len(classes)))
        return out

    # ------------------------------------------------------------ writing

    def _output(self, batch: Any, good: np.ndarray, outputs: dict[str, np.ndarray]) -> Any:
        import pyarrow as pa

        everything = bool(good.all())
        mask = None if everything else pa.array(good)
        columns: dict[str, Any] = {}
        for name in self.options.keep:
            col = batch.column(name)
            columns[name] = col if mask is None else col.filter(mask)
        for name, values in outputs.items():
            if name == "probabilities" and self.predictor.classes is not None:
                for j, label in enumerate(self.predictor.classes.tolist()):
                    columns[f"proba_{label}"] = pa.array(values[:, j])
            else:
                columns[name] = _arrow(values)
        return pa.table(columns)

    def _quarantine(self, split: Split, chunk: Chunk, rejected: dict[int, str],
                    lines: list[BadLine]) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        order = sorted(rejected)
        take = pa.array(order, type=pa.int64())
        columns: dict[str, Any] = {}
        for name in self.columns:
            col = chunk.batch.column(name).take(take)
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            text = pc.cast(col, pa.string())
            columns[name] = pa.concat_arrays([text, pa.nulls(len(lines), pa.string())])
        n = len(order) + len(lines)
        columns["_file"] = pa.array([split.url] * n, pa.string())
        columns["_row"] = pa.array([chunk.first_row + i + 1 for i in order] + [None] * len(lines),
                                   pa.int64())
        columns["_reason"] = pa.array([rejected[i] for i in order] + [b.reason for b in lines],
                                      pa.string())
        columns["_line"] = pa.array([None] * len(order) + [b.text for b in lines], pa.string())
        return pa.table(columns)


def _arrow(values: np.ndarray) -> Any:
    """One output as one column: a value per row, or a list per row (a graph's
    ``[rows, n]`` output, an embedding); a ``[rows, 1]`` output is one value per row."""
    import pyarrow as pa

    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.dtype.kind == "O" or values.ndim > 1:
        return pa.array(values.tolist())
    return pa.array(values)


_TRUE = {"true", "t", "yes", "1", "1.0"}
_FALSE = {"false", "f", "no", "0", "0.0"}


def _parse(value: str, as_bool: bool) -> Any:
    text = value.strip()
    if as_bool:
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else None
    try:
        return float(text)
    except ValueError:
        return None


