"""scikit-learn models, stored with skops — never with pickle.

skops refuses to build any type it is not told to trust. What it may trust
comes from modelport's own reviewed list (``trusted.py``), never from the file
being loaded, so a crafted artifact cannot widen what it is allowed to build.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from modelport.core.formats.archive import open_zip
from modelport.core.formats.base import Format, Predictor, module_of
from modelport.core.formats.tree_check import check_sklearn, check_width
from modelport.core.formats.trusted import TRUSTED_TYPES
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, ModelportError, UnsafeArtifactError, first_line

MAX_ENTRIES = 1_000_000  # skops writes one entry per array: a big forest has thousands


class SklearnPredictor(Predictor):
    runtime = "sklearn"

    def __init__(self, model: Any, signature: Signature) -> None:
        super().__init__(signature)
        # the signature has already checked column names; without this, scikit-learn
        # warns on every matrix from a model that was fitted on a DataFrame
        self.model = _without_feature_names(model)
        self._has_proba = self.is_classifier and hasattr(model, "predict_proba")

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(x))

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        if not self._has_proba:
            return super().proba_matrix(x)
        return np.asarray(self.model.predict_proba(x), dtype=np.float64)

    def outputs_of_matrix(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if self._has_proba:
            return super().outputs_of_matrix(x)
        return {"prediction": self.predict_matrix(x)}


def _without_feature_names(model: Any) -> Any:
    """``model`` with no ``feature_names_in_`` on it or on any pipeline step.

    Shallow copies share the fitted arrays, so this is cheap and leaves the caller's
    model untouched. A Pipeline's own ``feature_names_in_`` is a property reading its
    first step, which is why the steps are walked.
    """
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        model = copy.copy(model)
        model.steps = [(name, _without_feature_names(step)) for name, step in steps]
        return model
    parts = model.__dict__.get("transformers_") if hasattr(model, "__dict__") else None
    if isinstance(parts, list):  # a fitted ColumnTransformer: its parts were fitted on frames
        model = copy.copy(model)
        model.transformers_ = [(name, _without_feature_names(part), cols)
                               for name, part, cols in parts]
        model.__dict__.pop("feature_names_in_", None)
        return model
    if "feature_names_in_" not in getattr(model, "__dict__", {}):
        return model
    model = copy.copy(model)
    del model.feature_names_in_
    return model


class SklearnFormat(Format):
    name = "sklearn"
    extra = "all"

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "sklearn"

    def dump(self, model: Any) -> bytes:
        import skops.io as sio

        data: bytes = sio.dumps(model)
        untrusted = set(sio.get_untrusted_types(data=data)) - TRUSTED_TYPES
        if untrusted:
            raise UnsafeArtifactError(
                f"cannot store this model safely: it contains types outside modelport's "
                f"allow-list: {', '.join(sorted(untrusted))}"
            )
        return data

    def load_model(self, data: bytes) -> Any:
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        open_zip(data, "scikit-learn (skops) artifact", MAX_ENTRIES).close()
        try:
            model = sio.loads(data, trusted=sorted(TRUSTED_TYPES))
        except UntrustedTypesFoundException as exc:
            raise UnsafeArtifactError(
                "refusing to load a scikit-learn artifact that asks for types outside "
                f"modelport's allow-list: {exc}"
            ) from None
        except ModelportError:
            raise
        except Exception as exc:  # a bad zip, a missing or malformed schema, an unknown node
            first = first_line(exc)
            raise InvalidInputError(
                f"not a loadable scikit-learn (skops) artifact: {first}") from None
        # skops rebuilds trees as stored; their compiled walk trusts every index
        check_sklearn(model)
        return model

    def predictor(self, model: Any, signature: Signature) -> Predictor:
        check_width(getattr(model, "n_features_in_", None), signature, "scikit-learn model")
        return SklearnPredictor(model, signature)
