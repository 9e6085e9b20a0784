"""KServe's v1 protocol: ``POST /v1/models/NAME:predict`` with ``{"instances": [...]}``.

Instances are rows, either lists in signature order or objects of column to
value; predictions come back one per instance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import InvalidInputError
from modelport.runtimes.serving.http import Request, Response, json_response
from modelport.runtimes.serving.tensors import to_json_data


def model_status(name: str) -> Response:
    return json_response({"name": name, "ready": True})


def batch_of(request: Request) -> Any:
    doc = request.json()
    rows = doc.get("instances", doc.get("inputs")) if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not rows:
        raise InvalidInputError("expected {\"instances\": [row, ...]} with at least one row")
    return rows


def render(outputs: dict[str, np.ndarray]) -> Response:
    body: dict[str, Any] = {"predictions": to_json_data(outputs["prediction"])}
    if "probabilities" in outputs:
        body["probabilities"] = outputs["probabilities"]
    return json_response(body)
