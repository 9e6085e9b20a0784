"""MLflow's scoring protocol, so an MLflow client can switch servers untouched.

``POST /invocations`` takes exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (JSON), or a CSV body, and
answers ``{"predictions": [...]}``; ``/ping``, ``/health`` and ``/version``
answer as MLflow's server does, and so do errors: ``{"error_code": "BAD_REQUEST",
"message": ...}`` (plus modelport's ``error``), 415 for a content type it cannot read.
A CSV header is counted before pandas sees it: one wider than the model's signature
allows is refused at once (pandas' work grows with the square of the columns).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

from modelport.config import VERSION
from modelport.errors import InvalidInputError, ModelportError, SchemaError, first_line
from modelport.runtimes.serving.http import Request, Response, json_response
from modelport.runtimes.serving.protocols.columnar import columns
from modelport.runtimes.serving.tensors import prediction_rows

FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")
# MLflow's error codes (databricks_pb2) by HTTP status; any other 4xx is BAD_REQUEST
ERROR_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
               404: "RESOURCE_DOES_NOT_EXIST", 429: "REQUEST_LIMIT_EXCEEDED",
               500: "INTERNAL_ERROR", 503: "TEMPORARILY_UNAVAILABLE"}


class UnsupportedMediaTypeError(ModelportError):
    code = "unsupported_media_type"
    status = 415


def error(status: int, message: str) -> Response:
    """An error as MLflow's scoring server words it, which its clients parse."""
    code = ERROR_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")
    return json_response({"error_code": code, "message": message, "error": message}, status)


def ping() -> Response:
    return Response(200, b"\n", b"application/json")


def version() -> Response:
    return Response(200, VERSION.encode(), b"text/plain")


def batch_of(request: Request, names: list[str]) -> tuple[Any, None]:
    return _batch(request, names), None


def _batch(request: Request, names: list[str]) -> Any:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type == "text/csv":
        return _csv(request.body, len(names))
    if content_type != "application/json":
        raise UnsupportedMediaTypeError(f"unsupported content type {content_type!r} — send "
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
        return columns(value, given[0])
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


def max_csv_columns(n: int) -> int:
    """The widest CSV header read for a model of ``n`` inputs (extra columns are ignored,
    within reason)."""
    return max(2 * n, n + 64)


def _csv(body: bytes, n: int) -> Any:
    import pandas as pd

    _check_width(body, n)
    try:
        return pd.read_csv(io.BytesIO(body))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the CSV body: {first_line(exc)}") from None


def _check_width(body: bytes, n: int) -> None:
    """Refuse, before pandas, the two shapes that make it slow: a header far wider than the
    model (its column selection grows with the square of the columns) and a first row wider
    than the header (it then reads the extra leading values as a many-level index)."""
    ends = [i for i in (body.find(b"\n"), body.find(b"\r")) if i >= 0]
    fields = body.count(b",", 0, min(ends) if ends else len(body)) + 1  # an upper bound
    if fields > max_csv_columns(n):
        raise SchemaError(f"the CSV header names {fields:,} columns; this model takes {n} "
                          f"(at most {max_csv_columns(n)} are read)")
    # the exact field counts of the header and the first row (quotes respected; the csv
    # module reads only as far as these two records)
    text = io.TextIOWrapper(io.BytesIO(body), encoding="utf-8", errors="replace", newline="")
    try:
        reader = csv.reader(text)
        header, first = next(reader, []), next(reader, None)
    except csv.Error as exc:
        raise InvalidInputError(f"cannot read the CSV body: {exc}") from None
    if first is not None and len(first) > len(header):
        raise SchemaError(f"the first CSV row has {len(first):,} values but the header names "
                          f"{len(header)} columns")


def render(outputs: dict[str, np.ndarray]) -> Response:
    return json_response({"predictions": prediction_rows(outputs)})
