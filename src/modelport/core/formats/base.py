"""The two contracts every model format meets: ``Format`` and ``Predictor``.

A ``Format`` turns a trained model into bytes and back; the bytes are what the
artifact store keeps and digests. What it loads is a ``Predictor``: the single
object serving, batch, streaming and edge all call, so a format added here
reaches every runtime at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from modelport.core.signature import Signature
from modelport.errors import SchemaError


class Predictor(ABC):
    """A loaded model that checks its input and answers predictions.

    ``predict`` returns labels (classifiers) or values (regressors);
    ``predict_proba`` returns one probability column per class, in the order of
    ``signature.classes``. Thread-safe for concurrent ``predict`` calls.

    >>> predictor = modelport.load("iris@champion")   # doctest: +SKIP
    >>> predictor.predict(frame.head(3))               # doctest: +SKIP
    array([0, 0, 0])
    """

    runtime: ClassVar[str]
    input_dtype: ClassVar[Any] = np.float64
    # the output that is "the prediction" — what endpoints count and compare, streams
    # publish and batch jobs write first; a graph imported from elsewhere names its own
    prediction_output: str = "prediction"

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.classes = None if signature.classes is None else np.asarray(signature.classes)
        self.name: str | None = None
        self.version: int | None = None

    @property
    def is_classifier(self) -> bool:
        return self.classes is not None

    def matrix(self, batch: Any) -> np.ndarray:
        return self.signature.to_matrix(batch, self.input_dtype)

    def predict(self, batch: Any) -> np.ndarray:
        return self.predict_matrix(self.matrix(batch))

    def predict_proba(self, batch: Any) -> np.ndarray:
        if not self.is_classifier:
            raise SchemaError("this model is a regressor: it has no class probabilities")
        return self.proba_matrix(self.matrix(batch))

    def predict_outputs(self, batch: Any) -> dict[str, np.ndarray]:
        """Every output of the signature at once: ``prediction`` and, for classifiers,
        ``probabilities`` — computed in one pass where the runtime allows."""
        return self.outputs_of_matrix(self.matrix(batch))

    def outputs_of_matrix(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """``predict_outputs`` for an already checked matrix (the hot path: a server
        checks each request once, before batching)."""
        if not self.is_classifier:
            return {"prediction": self.predict_matrix(x)}
        proba = self.proba_matrix(x)
        return {"prediction": self.labels(proba), "probabilities": proba}

    def prediction(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The prediction among ``outputs`` (as ``outputs_of_matrix`` answered them)."""
        return outputs[self.prediction_output]

    def labels(self, proba: np.ndarray) -> np.ndarray:
        assert self.classes is not None
        return self.classes[proba.argmax(axis=1)]

    @abstractmethod
    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """Predictions for an already checked matrix (the hot path)."""

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        raise SchemaError(f"the {self.runtime} runtime gives no probabilities for this model")

    def __repr__(self) -> str:
        ref = f"{self.name}:{self.version}" if self.name else "unregistered"
        return f"<{type(self).__name__} {ref} runtime={self.runtime}>"


class Format(ABC):
    """Serialises one family of models. Stateless; one instance per format."""

    name: ClassVar[str]
    extra: ClassVar[str]  # the modelport extra that installs what this format needs
    # whether its models answer rows through a ``Predictor`` (serve, batch, stream, edge);
    # a forecast answers a horizon through its own contract, ``Forecaster``, instead
    predicts: ClassVar[bool] = True

    @abstractmethod
    def accepts(self, model: Any) -> bool:
        """Whether ``model`` is of this format's family (checked without importing it)."""

    @abstractmethod
    def dump(self, model: Any) -> bytes: ...

    def check(self, data: bytes) -> None:
        """Refuse bytes that are unsafe to keep (``UnsafeArtifactError``): called when a
        version is registered, so a crafted artifact never enters the registry; a format
        whose checks need the model object runs them in ``load_model`` as well."""
        return None  # most formats validate while they load

    @abstractmethod
    def load_model(self, data: bytes) -> Any:
        """The native model object — only ever from bytes whose digest was verified,
        validated before anything trusts its structure."""

    @abstractmethod
    def predictor(self, model: Any, signature: Signature) -> Predictor: ...

    def load(self, data: bytes, signature: Signature) -> Predictor:
        return self.predictor(self.load_model(data), signature)


def module_of(model: Any) -> str:
    return type(model).__module__.split(".")[0]
