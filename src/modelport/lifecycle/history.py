"""A metric's history cut to what a chart can show: min, max and last per bucket.

A run logged every step for a million steps; a chart is ~800 pixels wide.
Sending every point costs the network and the browser (MLflow's default charts
freeze on long histories), while plain every-n-th sampling hides spikes. One
bucket per pixel column keeps each column's extremes and where it ended, so a
divergence or a loss spike stays visible however long the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MAX_BUCKETS = 4096  # wider than any screen: a larger ask is a mistake or an attack


@dataclass
class Bucket:
    """The finite values logged at steps ``first``..``step`` (``step`` is the last)."""

    first: int
    step: int
    min: float
    max: float
    last: float
    count: int


def downsample(points: Sequence[tuple[int, float]], buckets: int) -> list[Bucket]:
    """``points`` (step order) in at most ``buckets`` equal step ranges, empty ones left out.

    >>> [b.max for b in downsample([(0, 1.0), (1, 5.0), (2, 2.0), (3, 0.5)], 2)]
    [5.0, 2.0]

    Non-finite values (a diverged loss) are left out: a chart has no pixel for them.
    """
    finite = [(s, v) for s, v in points if math.isfinite(v)]
    if not finite:
        return []
    lo, hi = finite[0][0], finite[-1][0]
    width = max(1, hi - lo + 1) / buckets
    out: list[Bucket] = []
    index = -1
    for step, value in finite:
        at = min(buckets - 1, int((step - lo) / width))
        if at != index:
            index = at
            out.append(Bucket(step, step, value, value, value, 1))
            continue
        b = out[-1]
        b.step, b.last, b.count = step, value, b.count + 1
        b.min, b.max = min(b.min, value), max(b.max, value)
    return out
