"""MLflow's scoring protocol, so an MLflow client can switch servers untouched.

``POST /invocations`` takes exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (JSON), or a CSV body, and
answers ``{"predictions": [...]}``; ``/ping``, ``/health`` and ``/version``
answer as MLflow's server does.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from modelport import __version__
from modelport.errors import InvalidInputError
from modelport.runtimes.serving.http import Request, Response, json_response
from modelport.runtimes.serving.tensors import to_json_data

FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def ping() -> Response:
    return Response(200, b"\n", b"application/json")


def version() -> Response:
    return Response(200, __version__.encode(), b"text/plain")


def batch_of(request: Request, columns: list[str]) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type == "text/csv":
        return _csv(request.body)
    if content_type != "application/json":
        raise InvalidInputError(f"unsupported content type {content_type!r} — send "
                                "application/json or text/csv")
    doc = request.json()
    given = [f for f in FIELDS if isinstance(doc, dict) and f in doc]
    if len(given) != 1:
        raise InvalidInputError(f"the body must have exactly one of {', '.join(FIELDS)}"
                                + (f" (got {', '.join(given)})" if given else ""))
    value = doc[given[0]]
    if given[0] == "dataframe_split":
        return _split(value)
    if given[0] == "dataframe_records":
        if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
            raise InvalidInputError("dataframe_records must be a list of objects")
        return value
    if isinstance(value, dict):  # {"inputs": {"col": [...], ...}} — columns
        return {k: np.asarray(v) for k, v in value.items()}
    if not isinstance(value, list) or not value:
        raise InvalidInputError(f"{given[0]} must be a non-empty list of rows")
    return value


def _split(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInputError("dataframe_split needs 'columns' and 'data'")
    columns, data = value.get("columns"), value["data"]
    if not isinstance(columns, list) or not all(isinstance(row, list) and len(row) == len(columns)
                                                for row in data):
        raise InvalidInputError("dataframe_split: every row of 'data' needs one value per column")
    return {str(c): [row[j] for row in data] for j, c in enumerate(columns)}


def _csv(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the CSV body: {exc}") from None


def render(outputs: dict[str, np.ndarray]) -> Response:
    return json_response({"predictions": to_json_data(outputs["prediction"])})
