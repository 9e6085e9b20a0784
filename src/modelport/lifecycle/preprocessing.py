"""The preprocessing each estimator needs: category codes, imputation, one-hot, scaling.

Training works on the matrix serving will send: ``encode`` turns a frame into
the float codes of its signature (``core/signature.py``), so a model never sees
text and every runtime — native, ONNX, booster, batch — takes the same input.
What a family then needs from those codes is decided here, once, for ``train``,
``tune`` and ``automl`` alike:

- families that take NaN and split on values (trees, forests, LightGBM,
  XGBoost, HistGradientBoosting) use the codes directly — a code is one more
  ordered value, an unseen category (-1) sorts below all known ones, a missing
  value goes where the tree learned to send it. Their native categorical modes
  are not used: HistGradientBoosting's keeps a ``functools.partial`` that
  skops cannot trust, LightGBM's needs a fit argument every caller would have
  to pass, and a booster stored natively would then expect pandas categories;
- every other family gets a ``ColumnTransformer``: categories one-hot
  (``handle_unknown="ignore"``: an unseen category is all zeros, a missing one
  its own column), numbers imputed with their training median, then scaled for
  the families in ``SCALED``.

Numbers are imputed even when training had no missing value: a row that lacks
one at prediction time must get an answer, not a scikit-learn ``ValueError`` (or,
from an ONNX copy, a silent wrong one). A numeric frame is SimpleImputer →
[StandardScaler →] estimator, which skl2onnx exports as ``Imputer → Scaler →
Linear…`` — still one linear map for the evaluator in ``core/formats/linear.py``.
The signature records that such a model takes missing values
(``registry.takes_missing``); a model that cannot is refused them at the door.

>>> X, signature = encode(frame)                                   # doctest: +SKIP
>>> est = build("logistic_regression", "classification", {},
...             features=Features.of(signature, X))                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelport.core.signature import Signature

# families that split on values and route NaN themselves: codes go in as they are
NAN_NATIVE = {"decision_tree", "random_forest", "extra_trees", "hist_gradient_boosting",
              "lightgbm", "xgboost"}


@dataclass(frozen=True)
class Features:
    """Which training columns hold category codes (numbers are always imputed)."""

    categorical: tuple[int, ...] = ()
    cardinality: tuple[int, ...] = ()  # categories per categorical column
    width: int = 0

    @property
    def numeric(self) -> list[int]:
        return [i for i in range(self.width) if i not in self.categorical]

    @classmethod
    def of(cls, signature: Signature, encoded: Any = None) -> Features:
        """From a signature (``encoded``, the frame ``encode`` made, is not needed)."""
        cat = tuple(i for i, c in enumerate(signature.inputs) if c.categories is not None)
        cardinality = tuple(len(signature.inputs[i].categories or ()) for i in cat)
        return cls(cat, cardinality, len(signature.inputs))


def encode(X: Any, signature: Signature | None = None) -> tuple[Any, Signature]:
    """``X`` as the float frame its model trains on, and the signature that made it.

    Columns keep their names, so estimators fitted on it record them as usual.
    """
    import pandas as pd

    signature = signature or Signature.infer(X)
    matrix = signature.to_matrix(X)
    return pd.DataFrame(matrix, columns=signature.names, index=X.index), signature


def wrap(name: str, est: Any, features: Features | None, scale: bool) -> Any:
    """``est`` behind the preprocessing ``features`` call for (see the module docstring)."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name in NAN_NATIVE or _takes_nan(est):
        return make_pipeline(StandardScaler(), est) if scale else est
    if features is None or not features.categorical:
        return make_pipeline(_imputer(), *([StandardScaler()] if scale else []), est)
    return make_pipeline(_columns(features, scale), est)


def _imputer() -> Any:
    from sklearn.impute import SimpleImputer

    # a column all missing in one CV fold still gets a (zero) fill, and keeps its place
    return SimpleImputer(strategy="median", keep_empty_features=True)


def _columns(features: Features, scale: bool) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric_steps: list[Any] = [_imputer()]
    if scale:
        numeric_steps.append(StandardScaler())
    parts: list[tuple[str, Any, list[int]]] = []
    if features.numeric:
        parts.append(("numeric", make_pipeline(*numeric_steps), features.numeric))
    if features.categorical:
        parts.append(("categories", OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                      list(features.categorical)))
    return ColumnTransformer(parts)


def _takes_nan(est: Any) -> bool:
    """Whether an estimator given by import path declares it takes missing values."""
    tags = getattr(est, "__sklearn_tags__", None)
    try:
        return bool(tags().input_tags.allow_nan) if tags is not None else False
    except Exception:  # third-party estimators with incomplete tags
        return False
