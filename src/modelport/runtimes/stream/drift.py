"""Drift: notice when the model's error, or the data it sees, changes.

The error detector (ADWIN by default, Page-Hinkley on request) reads the
per-label error stream; only a *rise* counts as drift — an online model that
gets better is not an alarm. Input features are watched per batch: each
batch's column means, in units of the standard deviations seen during the
first ``reference`` events, feed one ADWIN per feature; that keeps feature
watching off the per-event path (a detector per feature per event would cost
more than the model). Detector state is not checkpointed: after a restart the
detectors learn the current regime afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError, require

DETECTORS = ("adwin", "page_hinkley")
KEEP = 20  # drift positions remembered for status


@dataclass
class DriftState:
    error_drifts: int = 0
    error_at: list[int] = field(default_factory=list)  # labelled-example counts, latest last
    feature_drifts: dict[str, int] = field(default_factory=dict)
    last: dict[str, Any] | None = None  # what drifted, when, at which event

    def to_dict(self) -> dict[str, Any]:
        return {"error_drifts": self.error_drifts, "error_at": self.error_at[-KEEP:],
                "feature_drifts": self.feature_drifts, "last": self.last}


class DriftWatch:
    def __init__(self, features: list[str], detector: str = "adwin", watch_features: bool = True,
                 reference: int = 1000) -> None:
        if detector not in DETECTORS:
            raise InvalidInputError(
                f"unknown drift detector {detector!r} — use one of {', '.join(DETECTORS)}")
        self._drift = require("river.drift", "stream")
        self._kind = detector
        self._error = self._new_error_detector()
        self.features = features if watch_features else []
        self._reference_rows = reference
        self._seen: list[np.ndarray] = []
        self._center: np.ndarray | None = None
        self._scale: np.ndarray | None = None
        self._feature_detectors: list[Any] = []
        self.state = DriftState()

    def _new_error_detector(self) -> Any:
        if self._kind == "adwin":
            return self._drift.ADWIN(clock=8)
        return self._drift.PageHinkley(mode="up")

    def error(self, value: float, event: int) -> bool:
        """Feed one example's error; true when the error rate has risen."""
        detector = self._error
        before = detector.estimation if self._kind == "adwin" else None
        detector.update(value)
        if not detector.drift_detected:
            return False
        if before is not None and detector.estimation <= before:
            return False  # the model improved: the window shrank, nothing to act on
        self.state.error_drifts += 1
        self.state.error_at = [*self.state.error_at[-KEEP + 1:], event]
        self.state.last = {"kind": "error", "event": event, "at": time.time()}
        return True

    def batch(self, x: np.ndarray, event: int) -> list[str]:
        """Feed one batch of inputs; the features whose distribution moved."""
        if not self.features or not len(x):
            return []
        if self._center is None:
            self._seen.append(x)
            if sum(len(a) for a in self._seen) >= self._reference_rows:
                ref = np.vstack(self._seen)
                self._center = ref.mean(axis=0)
                self._scale = np.where(ref.std(axis=0) > 0, ref.std(axis=0), 1.0)
                self._feature_detectors = [self._drift.ADWIN(clock=1) for _ in self.features]
                self._seen = []
            return []
        assert self._scale is not None
        z = ((x.mean(axis=0) - self._center) / self._scale).tolist()
        drifted = []
        for name, detector, value in zip(self.features, self._feature_detectors, z, strict=True):
            detector.update(value)
            if detector.drift_detected:
                drifted.append(name)
                self.state.feature_drifts[name] = self.state.feature_drifts.get(name, 0) + 1
        if drifted:
            self.state.last = {"kind": "features", "features": drifted, "event": event,
                               "at": time.time()}
        return drifted

    def reset_error(self) -> None:
        """After the model is reset, its error is a new regime."""
        self._error = self._new_error_detector()
