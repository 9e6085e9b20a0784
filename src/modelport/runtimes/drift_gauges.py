"""Live drift on ``/metrics``: per model, version and feature, from the logged sample.

The prediction log's writer thread hands each flushed group of sampled rows to
``LiveDrift.observe`` — so the request path pays nothing beyond the log's own draw.
Each version keeps its latest ``WINDOW_ROWS`` sampled rows in a ring; after every
observation the window is judged against the version's stored profile by the same
code as ``modelport monitor`` (``lifecycle/drift.py``), and the numbers are kept for
the next scrape. A version without a profile gets no gauges until it has one (the
report records one from its first logged hour); a profile that cannot be read is
logged and looked up again at the next flush, never fatal to serving.

Exposed per feature (and ``(prediction)``): ``modelport_drift_psi``,
``modelport_drift_wasserstein`` (numeric columns, in training standard deviations)
and ``modelport_drift_status`` (0 ok or too few rows, 1 warn, 2 drift); per version,
``modelport_drift_window_rows``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Container
from typing import Any

import numpy as np

from modelport.core.workspace import Workspace
from modelport.lifecycle import drift
from modelport.lifecycle.monitoring import stored_profile
from modelport.lifecycle.profile import encode_labels
from modelport.lifecycle.registry import get_version

log = logging.getLogger("modelport.predlog")

WINDOW_ROWS = 10_000  # rows judged per version: the latest sampled ones
PREDICTION = "(prediction)"
GAUGES = (("modelport_drift_psi", "psi", "Population stability index of the latest logged "
           "rows against the training profile."),
          ("modelport_drift_wasserstein", "wasserstein", "Wasserstein distance (training "
           "standard deviations) of the latest logged rows against the training profile."),
          ("modelport_drift_status", "status", "0 ok (or too few rows), 1 warn, 2 drift."))


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped (feature names are
    the training data's column names, whatever they hold)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Window:
    """The latest rows of one version: a ring of inputs (matrix form) and predictions."""

    def __init__(self, columns: int, size: int) -> None:
        self.x = np.full((size, columns), np.nan)
        self.predictions = np.empty(size, dtype=object)
        self.filled = 0
        self.at = 0

    def add(self, x: np.ndarray, predictions: np.ndarray) -> None:
        size = len(self.x)
        x, predictions = x[-size:], predictions[-size:]
        where = (self.at + np.arange(len(x))) % size
        self.x[where] = x
        self.predictions[where] = predictions
        self.at = (self.at + len(x)) % size
        self.filled = min(self.filled + len(x), size)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.filled], self.predictions[:self.filled]


class LiveDrift:
    """Per-version windows of logged rows, judged after each flush; read by ``render``."""

    def __init__(self, ws: Workspace, window_rows: int = WINDOW_ROWS) -> None:
        self.ws = ws
        self.window_rows = window_rows
        self.pid = str(os.getpid())
        self._windows: dict[tuple[str, int], _Window] = {}
        self._profiles: dict[tuple[str, int], dict[str, Any]] = {}
        self._lock = threading.Lock()
        # (model, version) → (window rows, {feature: {"psi", "wasserstein", "status"}})
        self._latest: dict[tuple[str, str], tuple[int, dict[str, dict[str, float]]]] = {}

    def _profile(self, name: str, version: int) -> dict[str, Any] | None:
        """The version's stored profile, kept once found; looked up again at each flush
        while it has none (``modelport monitor`` may record one from the first hour)."""
        key = (name, version)
        found = self._profiles.get(key)
        if found is None:
            # a failure propagates to the writer, which logs it: the next flush tries again
            found = stored_profile(get_version(f"{name}:{version}", ws=self.ws), self.ws)
            if found is not None:
                self._profiles[key] = found
        return found

    def observe(self, name: str, version: int, names: list[str], x: np.ndarray,
                predictions: np.ndarray) -> None:
        """Add flushed rows of ``name:version`` (inputs in the order of ``names``) and judge
        the window again. Runs on the log's writer thread."""
        baseline = self._profile(name, version)
        if baseline is None:
            return
        window = self._windows.get((name, version))
        if window is None:
            window = self._windows[(name, version)] = _Window(len(names), self.window_rows)
        window.add(x, predictions)
        rows, predicted = window.rows()
        judged = {}
        for j, feature in enumerate(names):
            column = baseline["features"].get(feature)
            if column is not None:
                judged[feature] = _numbers(drift.compare_column(column, rows[:, j]))
        target = baseline.get("prediction")
        if target is not None:
            values = encode_labels(predicted, target["categories"]) \
                if target["kind"] == "categorical" else predicted.astype(np.float64)
            judged[PREDICTION] = _numbers(drift.compare_column(target, values))
        with self._lock:
            self._latest[(name, str(version))] = (len(rows), judged)

    def render(self, models: Container[str] | None = None) -> bytes:
        """The gauges in Prometheus' text format; with ``models``, only theirs."""
        with self._lock:
            latest = sorted(self._latest.items())
        latest = [item for item in latest if models is None or item[0][0] in models]
        if not latest:
            return b""
        pid = self.pid
        out = ["# HELP modelport_drift_window_rows Logged rows in the live drift window.",
               "# TYPE modelport_drift_window_rows gauge"]
        out += [f'modelport_drift_window_rows{{model="{m}",version="{v}",pid="{pid}"}} {rows}'
                for (m, v), (rows, _) in latest]
        for metric, key, help_ in GAUGES:
            out += [f"# HELP {metric} {help_}", f"# TYPE {metric} gauge"]
            for (m, v), (_, judged) in latest:
                out += [f'{metric}{{model="{m}",version="{v}",feature="{_label(f)}",'
                        f'pid="{pid}"}} {numbers[key]:g}'
                        for f, numbers in judged.items() if key in numbers]
        return ("\n".join(out) + "\n").encode()


def _numbers(column: dict[str, Any]) -> dict[str, float]:
    out = {"status": float(drift.SEVERITY[column["status"]])}
    for key in ("psi", "wasserstein"):
        if column.get(key) is not None:
            out[key] = float(column[key])
    return out
