"""ONNX: the portable, fast runtime — and the export that produces it.

Export converts a native model (scikit-learn through skl2onnx, LightGBM and
XGBoost through onnxmltools) and then *proves* the copy: both run on the same
rows and the largest absolute difference of their outputs is recorded. A copy
that disagrees beyond tolerance is refused, never silently served. Converters
lag their libraries' releases, so a failed conversion is a clear error and the
native runtime stays the one in use.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from modelport.core.formats import linear, onnx_check
from modelport.core.formats.base import Format, Predictor
from modelport.core.formats.onnx_graph import GraphPredictor
from modelport.core.signature import Signature
from modelport.errors import (
    ExportError,
    InvalidInputError,
    MissingDependencyError,
    first_line,
    require,
)
from modelport_edge.sessions import session_options

log = logging.getLogger(__name__)

# float32 tree thresholds can move a probability by a few ULPs; beyond this, a
# prediction changed — not rounding
PARITY_ATOL = 1e-4
PARITY_RTOL = 1e-4

# set by ``convert`` on every model it writes: whether the converter's "probabilities"
# output holds probabilities ("true") or decision scores ("false": RidgeClassifier, SVC
# without probability=True, SGDClassifier with hinge loss — skl2onnx names both alike)
PROBABILITIES_KEY = "modelport.probabilities"


class OnnxPredictor(Predictor):
    runtime = "onnx"
    input_dtype = np.float32

    def __init__(self, session: Any, signature: Signature, graph: bytes | None = None) -> None:
        """``graph``: the model's bytes, so a one-node linear graph can answer a few rows
        without onnxruntime (``linear``); without them every call goes to onnxruntime."""
        super().__init__(signature)
        self.session = session
        self._input = session.get_inputs()[0].name
        outputs = [o.name for o in session.get_outputs()]
        label = next((n for n in outputs if "label" in n.lower()), None)
        proba = next((n for n in outputs if "prob" in n.lower()), None)
        if session.get_modelmeta().custom_metadata_map.get(PROBABILITIES_KEY) == "false":
            proba = None
        self._has_proba = proba is not None
        # one output fetched per call, the one used: a regressor's value, a classifier's
        # probabilities (the argmax maps onto signature.classes, which a bare booster's own
        # label output — class indexes — would not), else its labels
        self._fetch = [outputs[0] if not self.is_classifier else proba or label or outputs[0]]
        # the binding under InferenceSession.run: the wrapper re-validates input names and
        # rebuilds the output list on every call — half of a small model's time; inputs
        # here are already checked against the signature
        self._call = getattr(session, "_sess", None)
        self._small = None
        if graph is not None and (not self.is_classifier or self._has_proba):
            self._small = linear.compile_graph(graph, session, self._input, self._fetch[0])

    def _run(self, x: np.ndarray) -> Any:
        if self._call is not None:
            return self._call.run(self._fetch, {self._input: x}, None)[0]
        return self.session.run(self._fetch, {self._input: x})[0]

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        if not self.is_classifier:
            return np.asarray(self._run(x), dtype=np.float64).reshape(-1)
        if self._has_proba:
            return self.labels(self.proba_matrix(x))
        return np.asarray(self._run(x)).reshape(-1)

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        if not self._has_proba:
            return super().proba_matrix(x)
        proba = self._run(x)
        if isinstance(proba, list):  # a ZipMap output: one dict per row
            proba = [[row[k] for k in sorted(row)] for row in proba]
        return np.asarray(proba, dtype=np.float64)

    def outputs_of_matrix(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self._small is not None and len(x) <= self._small.max_rows:
            return self._small_outputs(x)
        if self.is_classifier and not self._has_proba:
            return {"prediction": self.predict_matrix(x)}
        return super().outputs_of_matrix(x)

    def _small_outputs(self, x: np.ndarray) -> dict[str, np.ndarray]:
        assert self._small is not None
        rows = self._small.rows(x)
        if not self.is_classifier:
            return {"prediction": np.array([r[0] for r in rows], dtype=np.float64)}
        proba = np.array(rows, dtype=np.float64)
        return {"prediction": self.labels(proba), "probabilities": proba}


class OnnxFormat(Format):
    name = "onnx"
    extra = "onnx"

    def accepts(self, model: Any) -> bool:
        return type(model).__name__ == "ModelProto"

    def dump(self, model: Any) -> bytes:
        return bytes(model.SerializeToString())

    def check(self, data: bytes) -> None:
        try:  # the graph is read with protobuf alone: serving needs no ``onnx``
            import google.protobuf  # noqa: F401
        except ImportError:
            raise MissingDependencyError("protobuf", self.extra) from None
        onnx_check.check_model(data)

    def load_model(self, data: bytes) -> Any:
        ort = require("onnxruntime", self.extra)
        self.check(data)
        try:
            # one intra-op thread unless MODELPORT_ONNX_THREADS says otherwise: serve,
            # batch and stream scale by requests and processes, not by splitting one
            # small matrix across cores
            options = session_options(default_threads=1)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from None
        try:
            return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise InvalidInputError(f"not a loadable ONNX model: {_first_line(exc)}") from None

    def predictor(self, model: Any, signature: Signature) -> Predictor:
        if signature.tensors is not None:  # a graph imported with named tensor inputs
            return GraphPredictor(model, signature)
        return OnnxPredictor(model, signature)

    def load(self, data: bytes, signature: Signature) -> Predictor:
        if signature.tensors is not None:
            return GraphPredictor(self.load_model(data), signature)
        return OnnxPredictor(self.load_model(data), signature, graph=data)


@dataclass(frozen=True)
class Parity:
    """How closely an exported copy matches its source, on the rows both ran."""

    rows: int
    max_abs_diff: float
    labels_agree: float  # share of rows with the same label (1.0 for regressors)
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def convert(format_name: str, model: Any, signature: Signature) -> bytes:
    """The ONNX bytes of a native model, or an ExportError saying why not."""
    converter = _CONVERTERS.get(format_name)
    if converter is None:
        raise ExportError(f"no ONNX converter for {format_name} models")
    if format_name == "sklearn" and signature.categorical:
        # skl2onnx's OneHotEncoder cannot take the NaN category, and its trees lose the
        # routing of missing codes (parity fails); boosters convert codes exactly
        raise ExportError("scikit-learn models with category columns are not exported to "
                          "ONNX — the model keeps being served by its native runtime")
    n = len(signature.inputs)
    classifier = signature.classes is not None
    try:
        with warnings.catch_warnings():
            # converters read attributes their libraries have deprecated (SVC.probA_ …);
            # the user can do nothing about it, the parity check below is what counts
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            proto = converter(model, n, classifier)
    except ExportError:
        raise
    except Exception as exc:  # converters raise anything from RuntimeError to KeyError
        raise ExportError(
            f"ONNX conversion of this {type(model).__name__} failed ({_reason(exc)}) — "
            "the model keeps being served by its native runtime"
        ) from None
    has_proba = classifier and (format_name != "sklearn" or hasattr(model, "predict_proba"))
    entry = proto.metadata_props.add()
    entry.key, entry.value = PROBABILITIES_KEY, "true" if has_proba else "false"
    return bytes(proto.SerializeToString())


def _first_line(exc: BaseException, limit: int = 160) -> str:
    line = first_line(exc)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _reason(exc: BaseException) -> str:
    """One line: the error and, when it wraps one, the root cause (skl2onnx buries the
    useful part — "Expected an int, got a boolean" — under a dump of node attributes)."""
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if root is exc:
        return _first_line(exc)
    return f"{_first_line(exc, 80)}: {_first_line(root)}"


def _sklearn(model: Any, n: int, classifier: bool) -> Any:
    skl2onnx = require("skl2onnx", "onnx")
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(model): {"zipmap": False}} if classifier else None
    return skl2onnx.convert_sklearn(
        model, initial_types=[("input", FloatTensorType([None, n]))], options=options)


def _lightgbm(model: Any, n: int, classifier: bool) -> Any:
    onnxmltools = require("onnxmltools", "onnx")
    from onnxmltools.convert.common.data_types import FloatTensorType

    return onnxmltools.convert_lightgbm(
        model, initial_types=[("input", FloatTensorType([None, n]))], zipmap=False)


def _xgboost(model: Any, n: int, classifier: bool) -> Any:
    onnxmltools = require("onnxmltools", "onnx")
    from onnxmltools.convert.common.data_types import FloatTensorType

    # the converter reads features as f0, f1, …: convert a copy of the booster without
    # the training column names (the signature maps names to positions already)
    booster = (model.get_booster() if hasattr(model, "get_booster") else model).copy()
    booster.feature_names = None
    booster.feature_types = None
    return onnxmltools.convert_xgboost(
        booster, initial_types=[("input", FloatTensorType([None, n]))])


_CONVERTERS = {"sklearn": _sklearn, "lightgbm": _lightgbm, "xgboost": _xgboost}


def check_parity(source: Predictor, copy: Predictor, x: np.ndarray) -> Parity:
    """Run both predictors on ``x`` and compare every output they share.

    Probabilities (or regression values) are compared within tolerance; for a
    classifier the labels must also agree on every row.
    """
    ref = source.predict_outputs(x)
    got = copy.predict_outputs(x.astype(np.float32))
    classifier = source.is_classifier
    agree = float(np.mean(ref["prediction"] == got["prediction"])) if classifier else 1.0
    if "probabilities" in ref and "probabilities" in got:
        key = "probabilities"
    elif classifier:  # labels only: nothing numeric to compare beyond agreement
        return Parity(rows=len(x), max_abs_diff=0.0, labels_agree=agree, passed=agree == 1.0)
    else:
        key = "prediction"
    a = np.asarray(ref[key], dtype=np.float64)
    b = np.asarray(got[key], dtype=np.float64)
    if a.size != b.size:  # e.g. one score column where the source gives two probabilities
        return Parity(rows=len(x), max_abs_diff=float("inf"), labels_agree=agree, passed=False)
    b = b.reshape(a.shape)
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    close = bool(np.allclose(a, b, atol=PARITY_ATOL, rtol=PARITY_RTOL))
    return Parity(rows=len(x), max_abs_diff=diff, labels_agree=agree, passed=close and agree == 1.0)
