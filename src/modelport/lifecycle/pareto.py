"""The Pareto front of a multi-objective study, by sorting instead of comparing every pair.

A trial is on the front when no other trial is at least as good in every
objective and better in one. Comparing every pair is O(n²) — what makes
optuna-dashboard's Pareto view crawl past a thousand trials. Sorted by the first
objective, a dominator always comes before the trial it dominates, so one sweep
decides each trial against what came before:

- two objectives: the best second objective seen so far (O(n log n));
- three: the staircase of the earlier trials' best (second, third) pairs, searched
  by bisection (O(n log n) comparisons; the staircase is a list, so an insertion
  also moves memory);
- more: each trial against the front found so far (O(n · front size)).

Equal trials do not dominate each other: both stay on the front.

>>> front([(1.0, 5.0), (2.0, 2.0), (3.0, 3.0), (1.0, 5.0)], ["minimize", "minimize"])
[0, 1, 3]
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

Point = tuple[float, ...]


def front(values: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """The indices of ``values`` on the Pareto front, in index order.

    ``directions`` are ``minimize`` or ``maximize`` per objective; rows of another length
    or with a NaN are left out (a trial whose values are missing is on no front).
    """
    if not directions or any(d not in ("minimize", "maximize") for d in directions):
        raise ValueError("directions are 'minimize' or 'maximize', one per objective")
    signs = [-1.0 if d == "maximize" else 1.0 for d in directions]
    points = [(tuple(s * float(v) for s, v in zip(signs, row, strict=True)), i)
              for i, row in enumerate(values)
              if len(row) == len(signs) and not any(math.isnan(float(v)) for v in row)]
    points.sort()
    if len(signs) == 1:
        best = points[0][0] if points else None
        return sorted(i for p, i in points if p == best)
    sweep = {2: _sweep2, 3: _sweep3}.get(len(signs), _sweep_n)
    return sorted(sweep(points))


def _sweep2(points: list[tuple[Point, int]]) -> list[int]:
    out: list[int] = []
    best: Point | None = None  # the first point reaching the lowest second objective so far
    for p, i in points:
        if best is None or p[1] < best[1] or p == best:
            out.append(i)
            if best is None or p[1] < best[1]:
                best = p
    return out


def _sweep3(points: list[tuple[Point, int]]) -> list[int]:
    # the staircase: earlier front points' (second, third), second rising, third falling;
    # first[k] is the first objective of the point that put stair k there (the lowest)
    seconds: list[float] = []
    thirds: list[float] = []
    firsts: list[float] = []
    out: list[int] = []
    for p, i in points:
        k = bisect.bisect_right(seconds, p[1]) - 1  # lowest third among seconds <= p's
        if k >= 0:
            q = (firsts[k], seconds[k], thirds[k])
            if thirds[k] < p[2] or (thirds[k] == p[2] and seconds[k] < p[1]):
                continue
            if thirds[k] == p[2] and seconds[k] == p[1]:
                if q != p:
                    continue  # same pair, lower first objective
                out.append(i)  # an equal trial: on the front too, the stair stays
                continue
        out.append(i)
        at = k + 1
        end = at
        while end < len(seconds) and thirds[end] >= p[2]:
            end += 1  # stairs the new point covers: higher second and no lower third
        seconds[at:end] = [p[1]]
        thirds[at:end] = [p[2]]
        firsts[at:end] = [p[0]]
    return out


def _sweep_n(points: list[tuple[Point, int]]) -> list[int]:
    kept: list[Point] = []
    out: list[int] = []
    for p, i in points:
        if not any(q != p and all(a <= b for a, b in zip(q, p, strict=True)) for q in kept):
            kept.append(p)
            out.append(i)
    return out
