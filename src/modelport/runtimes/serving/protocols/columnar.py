"""TF Serving's columnar form, ``{"inputs": {"col": [v, ...], ...}}``, shared by KServe v1
and MLflow: one flat list of values per column (a lone value is one row)."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import SchemaError


def columns(value: dict[str, Any], field: str = "inputs") -> dict[str, np.ndarray]:
    """Each column as a 1-D array; a nested or ragged column is 422 naming it."""
    out: dict[str, np.ndarray] = {}
    for name, column in value.items():
        try:
            arr = np.asarray(column if isinstance(column, list) else [column])
        except (ValueError, TypeError):  # ragged: [[1], 2]
            arr = None
        if arr is None or arr.ndim != 1:
            raise SchemaError(f"{field}: column {name!r} must be a flat list of values, one "
                              "per row")
        out[name] = arr
    return out
