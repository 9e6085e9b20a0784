"""Running a verified bundle with onnxruntime, and the health check that proves it runs.

The model only ever comes from a ``Bundle`` that ``read_bundle`` verified, so
onnxruntime never parses bytes the publisher did not sign.

>>> model = load("iris.mpb", trust=Trust.load(["publisher.pub"]))  # doctest: +SKIP
>>> model.predict([{"sepal_length": 5.1, ...}])["prediction"]        # doctest: +SKIP
array([0])
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelport_edge.bundle import Bundle, read_bundle
from modelport_edge.errors import BundleRejected
from modelport_edge.matrix import all_finite, refused, rows_to_columns
from modelport_edge.sessions import session_options
from modelport_edge.trust import Trust

# written by modelport's ONNX export: "false" when a classifier's "probabilities"
# output holds decision scores rather than probabilities
PROBABILITIES_KEY = "modelport.probabilities"


class EdgeModel:
    """A bundle's model, loaded: ``predict(rows)`` → ``{"prediction", "probabilities"?}``.

    Rows are a list of mappings (column name → value), a list of lists in
    signature order, or a 2-D array; a graph imported into modelport takes a
    mapping of its input names to tensors and answers its own named outputs.
    Thread-safe (onnxruntime sessions are).
    ``threads``: intra-op threads, by default every CPU the process may use
    (``MODELPORT_ONNX_THREADS`` overrides; see ``sessions``).
    """

    def __init__(self, bundle: Bundle, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.bundle = bundle
        self.names = [c["name"] for c in bundle.inputs]
        # a graph imported into modelport takes named tensors, not one row matrix
        self.tensors: list[dict[str, Any]] | None = bundle.manifest["signature"].get("tensors")
        classes = bundle.manifest["signature"].get("classes")
        self.classes = None if classes is None else np.asarray(classes)
        self.text: Any = None  # a text model: its tokenizer before the graph
        if bundle.manifest["signature"].get("text") is not None:
            from modelport_edge.text import TextModel

            if self.tensors is None or not isinstance(bundle.manifest.get("tokenizer"), str):
                raise BundleRejected("incompatible", "a text model's bundle needs its "
                                                     "tensors and its tokenizer")
            self.text = TextModel(bundle.manifest["signature"]["text"],
                                  bundle.manifest["tokenizer"],
                                  [t["name"] for t in self.tensors], classes)
        options = session_options(threads)  # a bad MODELPORT_ONNX_THREADS: ValueError
        try:
            self.session = ort.InferenceSession(bundle.model_bytes, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BundleRejected("unloadable", f"onnxruntime cannot load the model: "
                                               f"{first}") from None
        self._input = self.session.get_inputs()[0].name
        outputs = [o.name.lower() for o in self.session.get_outputs()]
        self._label = next((i for i, n in enumerate(outputs) if "label" in n), None)
        self._proba = next((i for i, n in enumerate(outputs) if "prob" in n), None)
        meta = self.session.get_modelmeta().custom_metadata_map
        if meta.get(PROBABILITIES_KEY) == "false":
            self._proba = None
        # what the platform found at registration: whether the model takes a missing value
        self._takes_missing = bundle.manifest["signature"].get("takes_missing") is not False

    def matrix(self, rows: Any) -> Any:
        """The float32 input matrix, columns in signature order, width checked — or, for
        a graph taking named tensors, those tensors (``feeds``)."""
        if self.text is not None:
            return self.text.feeds(rows)
        if self.tensors is not None:
            return self.feeds(rows)
        if isinstance(rows, Mapping):
            rows = [rows]
        if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
            columns = rows_to_columns(rows, self.names)  # RowError: a ValueError
            rows = [columns[name] for name in self.names]
            transpose = True
        else:
            transpose = False
        with np.errstate(over="ignore"):  # a number too large for float32: inf, refused
            x = np.asarray(rows, dtype=np.float32)
        if transpose:
            x = x.T
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != len(self.names):
            raise ValueError(f"expected rows of {len(self.names)} values "
                             f"({', '.join(self.names[:5])}…), got shape {x.shape}")
        self._refuse_non_finite(x)
        return np.ascontiguousarray(x)

    def feeds(self, tensors: Any) -> dict[str, np.ndarray]:
        """A graph's named tensors (input name → nested lists or arrays), each of the
        dtype and rank the graph declares, fixed axes checked."""
        assert self.tensors is not None
        if not isinstance(tensors, Mapping):
            raise ValueError("this model takes named tensors: "
                             f"{', '.join(t['name'] for t in self.tensors)}")
        out = {}
        for spec in self.tensors:
            name, shape = spec["name"], spec["shape"]
            if name not in tensors:
                raise ValueError(f"missing input {name!r}")
            arr = np.asarray(tensors[name], dtype=spec["dtype"])
            if arr.ndim != len(shape) or any(isinstance(want, int) and want >= 0 and want != got
                                             for want, got in zip(shape, arr.shape,
                                                                  strict=True)):
                raise ValueError(f"input {name!r} needs shape {shape}, got {list(arr.shape)}")
            out[name] = np.ascontiguousarray(arr)
        return out

    def _refuse_non_finite(self, x: np.ndarray) -> None:
        """Never a silent answer: an infinite value is no feature, and a missing one only
        reaches a model that takes it — the platform's own check (``matrix``)."""
        if all_finite(x):
            return
        first = next(iter(refused(x, self.names, self._takes_missing).items()), None)
        if first is not None:
            raise ValueError(f"row {first[0]}, {first[1]}")

    def predict(self, rows: Any) -> dict[str, np.ndarray]:
        return self.predict_matrix(self.matrix(rows))

    def predict_matrix(self, x: Any) -> dict[str, np.ndarray]:
        if self.tensors is not None:  # a graph answers its own named outputs
            names = [o.name for o in self.session.get_outputs()]
            out = dict(zip(names, self.session.run(names, x), strict=True))
            return out if self.text is None else self.text.answers(x, out[names[0]])
        out = self.session.run(None, {self._input: x})
        if self.classes is None:
            return {"prediction": np.asarray(out[0], dtype=np.float64).reshape(-1)}
        if self._proba is None:
            return {"prediction": np.asarray(out[self._label or 0]).reshape(-1)}
        proba = np.asarray(out[self._proba], dtype=np.float64)
        return {"prediction": self.classes[np.argmax(proba, axis=1)], "probabilities": proba}


def load(path: str | Path | bytes, trust: Trust) -> EdgeModel:
    """Verify the bundle at ``path`` against ``trust``, then load it."""
    return EdgeModel(read_bundle(path, trust))


@dataclass
class Health:
    ok: bool
    reason: str
    rows: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "reason": self.reason, "rows": self.rows,
                "seconds": round(self.seconds, 6)}


def health_check(model: EdgeModel) -> Health:
    """Replay the manifest's smoke rows and compare with its recorded outputs.

    The expected outputs were computed from this very model file when the
    bundle was built, so any difference means this device runs it differently
    (another onnxruntime, a broken install) — not that the model changed.
    """
    smoke = model.bundle.manifest["smoke"]
    started = time.perf_counter()
    try:
        got = model.predict(smoke["inputs"])
    except Exception as exc:
        return Health(False, f"smoke prediction failed: {exc}", 0,
                      time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    inputs = smoke["inputs"]  # rows, or a graph's named tensors sharing their first axis
    rows = len(next(iter(inputs.values()))) if isinstance(inputs, Mapping) else len(inputs)
    expected = smoke["expected"]
    atol, rtol = float(smoke.get("atol", 1e-4)), float(smoke.get("rtol", 1e-4))
    for key, want in expected.items():
        if key not in got:
            return Health(False, f"the model gives no {key!r} output", rows, elapsed)
        have = got[key]
        want_arr = np.asarray(want)
        if want_arr.dtype.kind in "fc" and np.asarray(have).dtype.kind in "fc":
            if want_arr.shape != have.shape or not np.allclose(have, want_arr, atol=atol,
                                                                rtol=rtol):
                diff = (float(np.max(np.abs(have - want_arr)))
                        if want_arr.shape == have.shape else float("inf"))
                return Health(False, f"smoke {key} differ from the manifest (max abs diff "
                                     f"{diff:.3g} > {atol:g})", rows, elapsed)
        elif np.size(have) != want_arr.size:
            return Health(False, f"smoke {key} have {np.size(have)} values, the manifest "
                                 f"{want_arr.size}", rows, elapsed)
        elif [str(v) for v in np.ravel(have)] != [str(v) for v in np.ravel(want_arr)]:
            wrong = sum(str(a) != str(b) for a, b in zip(np.ravel(have), np.ravel(want_arr),
                                                          strict=False))
            return Health(False, f"smoke {key} differ from the manifest on {wrong} of {rows} "
                                 "rows", rows, elapsed)
    return Health(True, "ok", rows, elapsed)
