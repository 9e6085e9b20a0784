"""The metric history both systems log for the comparison: a noisy decaying loss per run."""

from __future__ import annotations

import math


def loss(run: int, step: int) -> float:
    """Deterministic, so both stores hold the same values."""
    return math.exp(-step / (200 + 40 * run)) + 0.02 * math.sin(step * 0.7 + run)
