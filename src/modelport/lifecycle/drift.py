"""How far a window of rows has moved from a profile: per column, by effect size.

Each column is binned against its profile (``lifecycle/profile.py``) with one
vectorised ``searchsorted`` or ``bincount``, so a million rows × 20 columns take well
under a second. What is measured, and when it counts:

================  =========================================  =====  =====
measure           of                                          warn   drift
================  =========================================  =====  =====
PSI               bin / category shares (unseen a category)   0.10   0.20
Wasserstein       numeric bins, in training std units         0.05   0.10
unseen share      categories not seen in training (increase)  0.01   0.05
missing rate      absolute change                             0.05   0.10
out of range      share outside the training [min, max]       0.01   0.05
================  =========================================  =====  =====

Drift is judged by these effect sizes, never by a p-value: a test's p-value shrinks
with the sample, so on a million rows it flags every column (Evidently's default
tests do, evidently#50), while an effect size stays put. Two samples of one
distribution still differ a little, more so when small, so PSI and Wasserstein are
judged *net* of what sampling alone gives: PSI less its expected value between two
samples of one distribution, (bins − 1)·(1/n_baseline + 1/n_window); Wasserstein
less 3·√(1/n_baseline + 1/n_window) standard deviations (its 99th percentile
between two normal samples, measured); out of range less 2/n_baseline. The raw
values are reported; the net ones decide. A window under ``MIN_ROWS`` rows is
shown but not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.lifecycle.profile import bin_counts, category_counts, encode_labels

MIN_ROWS = 200
FLOOR = 1e-4  # the share an empty bin counts as, so PSI stays finite
OK, WARN, DRIFT, FEW = "ok", "warn", "drift", "too few rows"
SEVERITY = {OK: 0, FEW: 0, WARN: 1, DRIFT: 2}


@dataclass(frozen=True)
class Threshold:
    warn: float
    drift: float

    def judge(self, value: float | None) -> str:
        if value is None:
            return OK
        return DRIFT if value >= self.drift else WARN if value >= self.warn else OK


THRESHOLDS = {
    "psi": Threshold(0.10, 0.20),
    "wasserstein": Threshold(0.05, 0.10),
    "unseen": Threshold(0.01, 0.05),
    "missing": Threshold(0.05, 0.10),
    "out_of_range": Threshold(0.01, 0.05),
}


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two share vectors (empty bins floored)."""
    e = np.maximum(expected, FLOOR)
    a = np.maximum(actual, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _psi_noise(bins: int, n_baseline: int, n_window: int) -> float:
    return max(bins - 1, 0) * (1 / max(n_baseline, 1) + 1 / max(n_window, 1))


def wasserstein(column: dict[str, Any], expected: np.ndarray, actual: np.ndarray) -> float | None:
    """Earth mover's distance between binned distributions, in training standard
    deviations: each bin's rows sit at the bin's training mean (``centres``), so a shift
    through the wide outer bins is not overstated."""
    std = column.get("std")
    if not std:
        return None
    gap = np.abs(np.cumsum(expected) - np.cumsum(actual))[:-1]
    return float(np.sum(gap * np.diff(column["centres"])) / std)


def _net(value: float | None, noise: float) -> float | None:
    return None if value is None else max(value - noise, 0.0)


def _status(judged: dict[str, float | None], rows: int) -> str:
    if rows < MIN_ROWS:
        return FEW
    found = [THRESHOLDS[k].judge(v) for k, v in judged.items()]
    return max(found, key=SEVERITY.__getitem__, default=OK)


def numeric(column: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    """A numeric column of the window against its profile."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    n_base = max(int(column["rows"] * (1 - column["missing"])), 1)
    expected = np.asarray(column["shares"], dtype=np.float64)
    counts = bin_counts(present, column["cuts"])
    actual = counts / max(present.size, 1)
    drift_psi = psi(expected, actual) if present.size else None
    w = wasserstein(column, expected, actual) if present.size else None
    out_of_range = None
    if present.size and column.get("min") is not None:
        out_of_range = float(np.mean((present < column["min"]) | (present > column["max"])))
    missing = (values.size - present.size) / values.size if values.size else 0.0
    noise = np.sqrt(1 / n_base + 1 / max(present.size, 1))
    judged = {"psi": _net(drift_psi, _psi_noise(expected.size, n_base, present.size)),
              "wasserstein": _net(w, 3 * noise),
              "missing": abs(missing - column["missing"]),
              "out_of_range": _net(out_of_range, 2 / n_base)}
    mean = float(present.mean()) if present.size else None
    return {"kind": "numeric", "rows": int(values.size), "status": _status(judged, values.size),
            "psi": drift_psi, "wasserstein": w, "missing": missing,
            "baseline_missing": column["missing"], "out_of_range": out_of_range,
            "mean": mean, "baseline_mean": column.get("mean"),
            "shares": actual.tolist(), "baseline_shares": expected.tolist(),
            "cuts": list(column["cuts"])}


def categorical(column: dict[str, Any], codes: np.ndarray) -> dict[str, Any]:
    """A category column of the window (as codes: -1 unseen, NaN missing) against its profile."""
    codes = np.asarray(codes, dtype=np.float64)
    present = codes[~np.isnan(codes)]
    n_base = max(int(column["rows"] * (1 - column["missing"])), 1)
    counts = category_counts(present, len(column["categories"]))
    actual = counts / max(present.size, 1)
    expected = np.append(np.asarray(column["shares"], dtype=np.float64), column["unseen"])
    drift_psi = psi(expected, actual) if present.size else None
    unseen = float(actual[-1]) if present.size else None
    missing = (codes.size - present.size) / codes.size if codes.size else 0.0
    bins = int(np.count_nonzero((expected > 0) | (actual > 0)))
    judged = {"psi": _net(drift_psi, _psi_noise(bins, n_base, present.size)),
              "unseen": None if unseen is None else max(unseen - column["unseen"], 0.0),
              "missing": abs(missing - column["missing"])}
    return {"kind": "categorical", "rows": int(codes.size), "status": _status(judged, codes.size),
            "psi": drift_psi, "unseen": unseen, "baseline_unseen": column["unseen"],
            "missing": missing, "baseline_missing": column["missing"],
            "shares": actual[:-1].tolist(), "baseline_shares": list(column["shares"]),
            "categories": list(column["categories"])}


def compare_column(column: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    return numeric(column, values) if column["kind"] == "numeric" else \
        categorical(column, values)


def compare(profile: dict[str, Any], columns: dict[str, np.ndarray],
            predictions: np.ndarray | None) -> dict[str, Any]:
    """Every profiled feature (and the predictions) of a window against the profile.

    ``columns``: name → values in matrix form; a feature the window lacks is all missing.
    ``predictions``: class labels (any type) or numbers, as the model answered."""
    rows = len(next(iter(columns.values()))) if columns else 0
    features = {}
    for name, column in profile["features"].items():
        values = columns.get(name)
        features[name] = compare_column(column, np.full(rows, np.nan) if values is None
                                        else values)
    prediction = None
    baseline = profile.get("prediction")
    if baseline is not None and predictions is not None:
        if baseline["kind"] == "categorical":
            predictions = encode_labels(predictions, baseline["categories"])
        prediction = compare_column(baseline, np.asarray(predictions, dtype=np.float64))
    judged = [c["status"] for c in features.values()]
    if prediction is not None:
        judged.append(prediction["status"])
    status = max(judged, key=SEVERITY.__getitem__, default=OK)
    if rows < MIN_ROWS:
        status = FEW
    return {"status": status, "rows": rows, "features": features, "prediction": prediction,
            "thresholds": {k: {"warn": t.warn, "drift": t.drift} for k, t in THRESHOLDS.items()},
            "min_rows": MIN_ROWS}
