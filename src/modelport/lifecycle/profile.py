"""A compact profile of the data a model version saw: the baseline monitoring compares with.

Recorded when a version is registered, from its training rows in the signature's matrix
form (what every runtime receives, and what prediction logs hold): a numeric column keeps
its quantile cut points and the share of rows between them, its moments, range and
missing rate; a category column keeps the share of each training category (by code),
the unseen share (code -1) and the missing rate. The predictions on those rows are
profiled the same way — class labels as categories, a regression as numbers.

Bins come from training quantiles, so each holds about the same share of training rows
and a shift anywhere in the distribution moves some share; a discrete column collapses
to one bin per value. The profile is a few kilobytes whatever the training size, and a
window of logged rows is binned against it with one ``searchsorted`` per column.

>>> profile = build(signature, matrix, predictions)                 # doctest: +SKIP
>>> profile["features"]["sepal_length"]["cuts"][:2]                 # doctest: +SKIP
[5.0, 5.3]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from modelport.core.signature import Signature
from modelport.errors import InvalidInputError

BINS = 10  # quantile bins per numeric column
PROFILE_VERSION = 1
MAX_ROWS = 200_000  # rows profiled (a random sample beyond this: quantiles barely move)
MAX_PREDICTED_ROWS = 20_000  # rows the model predicts for the prediction profile


def numeric(values: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """The profile of one numeric column (NaN is missing)."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    out: dict[str, Any] = {"kind": "numeric", "rows": int(values.size),
                           "missing": _share(values.size - present.size, values.size)}
    if not present.size:
        return out | {"cuts": [], "shares": [0.0], "centres": [0.0], "mean": None, "std": None,
                      "min": None, "max": None}
    cuts = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
    where = np.searchsorted(cuts, present, side="right")
    counts = np.bincount(where, minlength=cuts.size + 1)
    low, high = float(present.min()), float(present.max())
    edges = np.concatenate([[low], cuts, [high]])
    # each bin's mean (its middle when empty): where its rows sit, for Wasserstein
    sums = np.bincount(where, weights=present, minlength=cuts.size + 1)
    centres = np.where(counts > 0, sums / np.maximum(counts, 1), (edges[1:] + edges[:-1]) / 2)
    return out | {"cuts": cuts.tolist(), "shares": shares(counts), "centres": centres.tolist(),
                  "mean": float(present.mean()), "std": float(present.std()),
                  "min": low, "max": high}


def bin_counts(present: np.ndarray, cuts: Sequence[float] | np.ndarray) -> np.ndarray:
    """Rows per bin: (-inf, c0), [c0, c1), …, [c_last, inf) — values below the training
    minimum fall in the first bin, above its maximum in the last."""
    cut_array = np.asarray(cuts, dtype=np.float64)
    return np.bincount(np.searchsorted(cut_array, present, side="right"),
                       minlength=cut_array.size + 1)


def categorical(codes: np.ndarray, categories: Sequence[str]) -> dict[str, Any]:
    """The profile of one category column given as codes (-1 unseen, NaN missing)."""
    codes = np.asarray(codes, dtype=np.float64)
    present = codes[~np.isnan(codes)]
    counts = category_counts(present, len(categories))
    return {"kind": "categorical", "rows": int(codes.size), "categories": list(categories),
            "missing": _share(codes.size - present.size, codes.size),
            "shares": shares(counts[:-1], present.size),
            "unseen": _share(int(counts[-1]), present.size)}


def category_counts(present: np.ndarray, n: int) -> np.ndarray:
    """Rows per category code 0..n-1, then the unseen ones (any other code) last."""
    codes = present.astype(np.int64)
    known = (codes >= 0) & (codes < n) & (codes == present)
    counts = np.bincount(codes[known], minlength=n)
    return np.append(counts, present.size - int(known.sum()))


def shares(counts: np.ndarray, total: int | None = None) -> list[float]:
    total = int(counts.sum()) if total is None else total
    return (counts / total).tolist() if total else [0.0] * len(counts)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def column(spec_categories: Sequence[str] | None, values: np.ndarray) -> dict[str, Any]:
    return numeric(values) if spec_categories is None else \
        categorical(values, spec_categories)


def prediction_profile(signature: Signature, predictions: np.ndarray) -> dict[str, Any]:
    """Class labels as categories (by their text, as logs keep them), numbers as numbers."""
    if signature.classes is None:
        return numeric(np.asarray(predictions, dtype=np.float64).ravel())
    labels = [str(c) for c in signature.classes]
    return categorical(encode_labels(predictions, labels), labels)


def encode_labels(predictions: Any, labels: Sequence[str]) -> np.ndarray:
    """Class predictions (any type) as codes of ``labels``; others -1."""
    text = np.asarray(predictions).astype(str).ravel()
    order = np.argsort(labels)
    ordered = np.asarray(labels)[order]
    at = np.searchsorted(ordered, text).clip(0, max(len(labels) - 1, 0))
    found = ordered[at] == text if len(labels) else np.zeros(text.size, bool)
    return np.where(found, order[at], -1).astype(np.float64)


def build(signature: Signature, matrix: np.ndarray, predictions: np.ndarray | None,
          source: str = "training") -> dict[str, Any]:
    """The profile of ``matrix`` (rows in signature order, as ``to_matrix`` gives them)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(signature.inputs):
        raise InvalidInputError(f"a profile needs rows of {len(signature.inputs)} columns")
    features = {spec.name: column(spec.categories, matrix[:, j])
                for j, spec in enumerate(signature.inputs)}
    return {"profile": PROFILE_VERSION, "source": source, "rows": int(matrix.shape[0]),
            "features": features,
            "prediction": None if predictions is None
            else prediction_profile(signature, predictions)}


def sample_rows(matrix: np.ndarray, most: int, seed: int = 0) -> np.ndarray:
    """At most ``most`` rows of ``matrix``, drawn at random without replacement."""
    if matrix.shape[0] <= most:
        return matrix
    picked = np.random.default_rng(seed).choice(matrix.shape[0], most, replace=False)
    return matrix[np.sort(picked)]


def encode(profile: dict[str, Any]) -> bytes:
    return json.dumps(profile, sort_keys=True, allow_nan=False).encode()


def decode(data: bytes) -> dict[str, Any]:
    """A stored profile, checked for the structure a report relies on."""
    try:
        profile = json.loads(data)
        ok = (isinstance(profile, dict) and profile.get("profile") == PROFILE_VERSION
              and isinstance(profile.get("features"), dict))
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInputError("the stored profile is not one this modelport can read — "
                                "it is rebuilt from the first logged window if removed")
    return profile
