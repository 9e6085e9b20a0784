"""LightGBM and XGBoost models in their own native text formats.

Both are stored as the booster alone plus the class labels, in a small JSON
envelope: nothing executable, and loading needs neither the scikit-learn
wrapper nor pickle. Prediction calls the booster directly, which is also
faster than the wrapper's checks.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from modelport.core.formats.base import Format, Predictor, module_of
from modelport.core.formats.lightgbm_check import check_lightgbm_text
from modelport.core.formats.tree_check import check_width
from modelport.core.formats.xgboost_check import check_xgboost_json
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, UnsafeArtifactError, first_line, require

MAX_CLASSES = 100_000


def _envelope(native: str, model: Any) -> bytes:
    classes = getattr(model, "classes_", None)
    return json.dumps({
        "classes": None if classes is None else np.asarray(classes).tolist(),
        "booster": native,
    }).encode()


def _open_envelope(data: bytes, fmt: str) -> dict[str, Any]:
    try:
        env = json.loads(data)
    except (ValueError, RecursionError):
        env = None
    if not isinstance(env, dict) or not isinstance(env.get("booster"), str):
        raise InvalidInputError(f"not a modelport {fmt} artifact")
    classes = env.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) > MAX_CLASSES
                                or not all(isinstance(c, str | int | float) for c in classes)):
        raise UnsafeArtifactError(f"{fmt} artifact: classes must be a list of at most "
                                  f"{MAX_CLASSES} labels")
    return env


def _version(text: str) -> tuple[int, ...]:
    """``"3.2.0"`` (or ``"3.2.0rc1"``) as ``(3, 2, 0)``."""
    parts = [int("".join(c for c in part if c.isdigit()) or 0) for part in text.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


def _unreadable(fmt: str, exc: Exception) -> InvalidInputError:
    """The library's own parse error as one line (XGBoost appends a C++ stack trace)."""
    first = first_line(exc)
    return InvalidInputError(f"not a loadable {fmt} model: {first}")


def _check_outputs(per_row: int, signature: Signature) -> None:
    """A booster's outputs per row must fit the signature's classes: one value for a
    regressor or a binary classifier, one per class otherwise."""
    classes = signature.classes
    expected = 1 if classes is None or len(classes) == 2 else len(classes)
    if per_row != expected:
        raise UnsafeArtifactError(f"the booster gives {per_row} values per row; its signature "
                                  f"needs {expected}")


class BoosterPredictor(Predictor):
    """A booster whose raw output is a value (regression), the positive-class
    probability (binary) or one probability per class (multiclass)."""

    def __init__(self, booster: Any, signature: Signature) -> None:
        super().__init__(signature)
        self.booster = booster

    def _raw(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw(x)
        return self.labels(_as_proba(raw)) if self.is_classifier else raw

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        return _as_proba(self._raw(x))


def _as_proba(raw: np.ndarray) -> np.ndarray:
    raw = np.asarray(raw)
    if raw.ndim == 1:  # the positive class only: complement it in the booster's own
        # precision (float32 for XGBoost), exactly as its scikit-learn wrapper does
        raw = np.column_stack([1 - raw, raw])
    return raw.astype(np.float64, copy=False)


def _smoke(predictor: BoosterPredictor, fmt: str) -> BoosterPredictor:
    """One prediction at load: what a booster would fail on for every request (a base
    score its objective rejects, …) fails once, here, as a clear error."""
    width = len(predictor.signature.inputs)
    try:
        predictor.outputs_of_matrix(np.zeros((1, width), dtype=predictor.input_dtype))
    except Exception as exc:  # the library's own error types
        raise _unreadable(fmt, exc) from None
    return predictor


class LightGBMPredictor(BoosterPredictor):
    runtime = "lightgbm"

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(x))


class LightGBMFormat(Format):
    name = "lightgbm"
    extra = "lightgbm"

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "lightgbm"

    def dump(self, model: Any) -> bytes:
        booster = getattr(model, "booster_", model)
        return _envelope(booster.model_to_string(), model)

    def load_model(self, data: bytes) -> Any:
        lgb = require("lightgbm", self.extra)
        native = _open_envelope(data, self.name)["booster"]
        check_lightgbm_text(native)  # LightGBM's parser aborts the process on some errors
        try:
            return lgb.Booster(model_str=native)
        except Exception as exc:  # LightGBMError, or the pandas_categorical line's JSON
            raise _unreadable(self.name, exc) from None

    def predictor(self, model: Any, signature: Signature) -> Predictor:
        check_width(model.num_feature(), signature, "LightGBM model")
        _check_outputs(model.num_model_per_iteration(), signature)
        return _smoke(LightGBMPredictor(model, signature), self.name)


class XGBoostPredictor(BoosterPredictor):
    runtime = "xgboost"

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(x))


class XGBoostFormat(Format):
    name = "xgboost"
    extra = "xgboost"

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "xgboost"

    def dump(self, model: Any) -> bytes:
        booster = model.get_booster() if hasattr(model, "get_booster") else model
        return _envelope(bytes(booster.save_raw("json")).decode(), model)

    def load_model(self, data: bytes) -> Any:
        xgb = require("xgboost", self.extra)
        native = _open_envelope(data, self.name)["booster"]
        # XGBoost walks child, feature and category indices unchecked
        check_xgboost_json(native, _version(xgb.__version__))
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(native.encode()))
        except xgb.core.XGBoostError as exc:
            raise _unreadable(self.name, exc) from None
        return booster

    def predictor(self, model: Any, signature: Signature) -> Predictor:
        check_width(model.num_features(), signature, "XGBoost model")
        return _smoke(XGBoostPredictor(model, signature), self.name)
