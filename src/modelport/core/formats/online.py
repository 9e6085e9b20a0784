"""Online models (River): stored as JSON state, served and taught row by row.

River models learn one example at a time, so the stream runtime keeps
teaching the very object it predicts with. ``OnlinePredictor`` is still an
ordinary ``Predictor`` (serving and batch call ``predict`` on a checked
matrix like for any model) with one more verb, ``learn`` — River's two verbs,
checked by the same signature as ``predict``:

>>> model = modelport.load("clicks-online")          # doctest: +SKIP
>>> model.learn([{"x": 1.0, "y": 2.0}], [1])          # doctest: +SKIP
>>> model.predict([{"x": 1.0, "y": 2.0}])             # doctest: +SKIP
array([1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from modelport.core.formats.base import Format, Predictor, module_of
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, SchemaError, first_line

STATE_VERSION = 1


class OnlinePredictor(Predictor):
    runtime = "river"

    def __init__(self, model: Any, signature: Signature) -> None:
        super().__init__(signature)
        self.model = model
        self._names = signature.names
        self._classes = None if signature.classes is None else list(signature.classes)

    def rows(self, x: np.ndarray) -> list[dict[str, float]]:
        """River takes one dict per example; plain floats keep its arithmetic fast."""
        names = self._names
        return [dict(zip(names, row, strict=True)) for row in x.tolist()]

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        return self.outputs_of_rows(self.rows(x))["prediction"]

    def proba_matrix(self, x: np.ndarray) -> np.ndarray:
        return self._proba(self.rows(x))

    def outputs_of_matrix(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return self.outputs_of_rows(self.rows(x))

    def outputs_of_rows(self, rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
        """Outputs for rows already checked and made dicts — a learning stream keeps
        those dicts to learn from later, so they are built once."""
        if self._classes is not None:
            # through the probabilities: River's binary models answer True/False for 1/0,
            # and the signature's classes are what clients were promised
            proba = self._proba(rows)
            return {"prediction": self.labels(proba), "probabilities": proba}
        predict = self.model.predict_one
        return {"prediction": np.asarray([np.nan if p is None else p for p in map(predict, rows)],
                                         dtype=np.float64)}

    def _proba(self, rows: list[dict[str, float]]) -> np.ndarray:
        assert self._classes is not None
        proba = self.model.predict_proba_one
        classes = self._classes
        return np.asarray([[p.get(c, 0.0) for c in classes] for p in map(proba, rows)],
                          dtype=np.float64).reshape(len(rows), len(classes))

    def learn(self, batch: Any, labels: Sequence[Any]) -> int:
        """Teach the model ``labels`` for ``batch`` (any form ``predict`` takes), in order;
        the rows are checked against the signature first, so a row ``predict`` would
        refuse is never learnt. Returns how many examples were learnt."""
        rows = self.rows(self.matrix(batch))
        if len(rows) != len(labels):
            raise SchemaError(f"{len(rows)} rows but {len(labels)} labels")
        learn_one = self.learn_one
        for row, label in zip(rows, labels, strict=True):
            learn_one(row, label)
        return len(rows)

    def learn_one(self, row: dict[str, float], label: Any) -> None:
        """One example, its row already checked and made a dict (``rows``): the stream
        runtime's per-event step, between which drift may reset the model."""
        self.model.learn_one(row, label)

    def fresh(self) -> OnlinePredictor:
        """The same recipe with nothing learnt — what a drift ``reset`` starts over from."""
        twin = OnlinePredictor(self.model.clone(), self.signature)
        twin.name, twin.version = self.name, self.version
        return twin


class OnlineFormat(Format):
    name = "river"
    extra = "stream"

    def accepts(self, model: Any) -> bool:
        return module_of(model) == "river"

    def dump(self, model: Any) -> bytes:
        from modelport.core.formats.river_state import encode

        return orjson.dumps({"river_state": STATE_VERSION, "model": encode(model)})

    def load_model(self, data: bytes) -> Any:
        from modelport.core.formats.river_state import decode

        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"not a loadable river model: {first_line(exc)}") from None
        if not isinstance(doc, dict) or doc.get("river_state") != STATE_VERSION:
            raise InvalidInputError("not a modelport river artifact (of a known state version)")
        return decode(doc["model"])

    def predictor(self, model: Any, signature: Signature) -> OnlinePredictor:
        return OnlinePredictor(model, signature)
