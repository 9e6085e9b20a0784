"""KServe's v1 protocol: ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}``.

Instances are rows, either lists in signature order or objects of column to
value; TF Serving's columnar ``{"inputs": {"col": [...]}}`` is read as columns.
Predictions come back one per row. ``GET /v1/models`` lists the served models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import InvalidInputError
from modelport.runtimes.serving.http import Request, Response, json_response
from modelport.runtimes.serving.protocols.columnar import columns
from modelport.runtimes.serving.tensors import prediction_rows


def model_status(name: str) -> Response:
    return json_response({"name": name, "ready": True})


def models(names: list[str]) -> Response:
    return json_response({"models": names})


def live() -> Response:
    """``GET /``: KServe's model server answers this (its client's ``is_server_live``)."""
    return json_response({"status": "alive"})


def batch_of(request: Request) -> tuple[Any, None]:
    doc = request.json()
    rows = doc.get("instances", doc.get("inputs")) if isinstance(doc, dict) else None
    if isinstance(rows, dict) and "instances" not in doc:
        return columns(rows), None
    if not isinstance(rows, list) or not rows:
        raise InvalidInputError("expected {\"instances\": [row, ...]} with at least one row, "
                                "or {\"inputs\": {\"column\": [value, ...]}}")
    return rows, None


def render(outputs: dict[str, np.ndarray]) -> Response:
    body: dict[str, Any] = {"predictions": prediction_rows(outputs)}
    if "probabilities" in outputs:
        body["probabilities"] = outputs["probabilities"]
    return json_response(body)
