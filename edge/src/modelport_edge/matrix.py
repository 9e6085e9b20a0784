"""The numpy-only checks every runtime runs on a model's input matrix, platform and device.

A device must refuse exactly what the platform refuses, in the same words, or the
same bundle would answer on one and not the other. So the checks that need nothing
but numpy live here, in the device runtime — which installs alone — and the
platform's signature (``modelport.core.signature``) calls these same functions:

- ``rows_to_columns``: rows given as mappings, read column by column in signature
  order, naming the first column a row lacks;
- ``all_finite``: the one fast pass on the hot path;
- ``refused``: on bad input only, which rows the model must not get and why — an
  infinite value always, a missing one when the model cannot take missing values.

>>> refused(np.array([[1.0, np.nan]]), ["a", "b"], takes_missing=False)[0][:39]
"column 'b' has a missing value (null or"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

_SMALL = 64  # values: below this, a Python sum is cheaper than a NumPy reduction's call


class RowError(ValueError):
    """A row that cannot be read as the model's columns (each runtime words it its way)."""


def rows_to_columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]
                    ) -> dict[str, list[Any]]:
    """``rows`` (one mapping of column to value each) as one list per column of ``names``."""
    columns: dict[str, list[Any]] = {}
    for name in names:
        try:
            columns[name] = [row[name] for row in rows]
        except KeyError:
            raise RowError(f"missing column {name!r} in a row") from None
        except TypeError:
            raise RowError("every row must be an object of column: value") from None
    return columns


def all_finite(x: np.ndarray) -> bool:
    """Whether every value of ``x`` is finite — or, rarely, their sum overflowed: the
    caller then looks value by value (``refused``)."""
    if x.size <= _SMALL:  # a request's few rows: 0.2 us instead of 0.9 us
        return math.isfinite(sum(x.ravel().tolist()))
    return bool(np.isfinite(x).all())


def refused(x: np.ndarray, names: Sequence[str], takes_missing: bool | None
            ) -> dict[int, str]:
    """The rows of ``x`` the model must not get, each with its reason. ``takes_missing``:
    whether the model takes a missing value (None: not known, so it is let through)."""
    bad = np.isinf(x) if takes_missing is not False else ~np.isfinite(x)
    out = {}
    for i in np.flatnonzero(bad.any(axis=1)).tolist():
        col = int(np.argmax(bad[i]))
        name = names[col]
        out[i] = (f"column {name!r} has a missing value (null or NaN) — this model cannot "
                  "take missing values: fill it before sending") if np.isnan(x[i, col]) \
            else (f"column {name!r} has an infinite value — send a finite number (one too "
                  f"large for {x.dtype.name} becomes infinite)")
    return out
