"""Progressive-validation scores: each prediction judged when its label arrives.

Shared by online training (labels at once) and streams (labels late), so a
model's score at registration and its score in production mean the same thing.
"""

from __future__ import annotations

import math
from typing import Any


class OnlineScore:
    """Accuracy for classifiers; MAE and RMSE for regressors. ``error`` is the
    per-example loss the drift detectors watch (0/1 misclassification or
    absolute error)."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.n = 0
        self._total = 0.0  # correct answers, or the sum of absolute errors
        self._squares = 0.0

    def update(self, label: Any, prediction: Any) -> float:
        self.n += 1
        if self.task == "classification":
            error = 0.0 if prediction == label else 1.0
            self._total += 1.0 - error
            return error
        if prediction is None:  # nothing learnt yet: River regressors answer 0 or None
            prediction = 0.0
        error = abs(float(label) - float(prediction))
        self._total += error
        self._squares += error * error
        return error

    def values(self) -> dict[str, float]:
        if not self.n:
            return {}
        if self.task == "classification":
            return {"online_accuracy": self._total / self.n}
        return {"online_mae": self._total / self.n,
                "online_rmse": math.sqrt(self._squares / self.n)}
