"""Model formats: one registry, chosen by name or by the model object itself."""

from __future__ import annotations

from typing import Any

from modelport.core.formats.base import Format, Predictor
from modelport.core.formats.boosters import LightGBMFormat, XGBoostFormat
from modelport.core.formats.ensemble import EnsembleFormat
from modelport.core.formats.forecast import ForecastFormat
from modelport.core.formats.online import OnlineFormat
from modelport.core.formats.onnx import OnnxFormat
from modelport.core.formats.sklearn import SklearnFormat
from modelport.errors import InvalidInputError

FORMATS: dict[str, Format] = {
    f.name: f for f in (SklearnFormat(), LightGBMFormat(), XGBoostFormat(), OnnxFormat(),
                        ForecastFormat(), OnlineFormat(), EnsembleFormat())
}


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise InvalidInputError(
            f"unknown model format {name!r} — known: {', '.join(FORMATS)}") from None


def format_for(model: Any) -> Format:
    """The format that stores ``model``; refuses anything it cannot store safely."""
    for fmt in FORMATS.values():
        if fmt.accepts(model):
            return fmt
    raise InvalidInputError(
        f"modelport cannot store a {type(model).__module__}.{type(model).__name__}: "
        f"supported are scikit-learn, LightGBM, XGBoost, ONNX and River models"
    )


__all__ = ["FORMATS", "Format", "Predictor", "format_for", "get_format"]
