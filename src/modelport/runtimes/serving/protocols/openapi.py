"""The data plane's OpenAPI 3.1 document, ``GET /v2/openapi.json``.

Why a document written here rather than generated: the data plane keeps its
own HTTP server (measured faster than the frameworks that generate one), so
its routes are described once, beside the protocol modules that parse and
render them — OIP v2 (the KServe / Triton REST schemas), KServe v1 and
MLflow's scoring protocol. The served model names are filled in per request
(only those the caller's key may see), so a generated client or a fuzzer
(schemathesis, run in the tests) reaches real models, and every status a
route can answer is declared with its JSON error body.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelport.config import VERSION
from modelport.runtimes.serving.tensors import DATATYPES

_ERROR = {"type": "object", "required": ["error"],
          "properties": {"error": {"type": "string"}}}
_MLFLOW_ERROR = {"type": "object", "required": ["error_code", "message"],
                 "properties": {"error_code": {"type": "string"}, "message": {"type": "string"},
                                "error": {"type": "string"}}}
_PARAMETERS = {"type": "object", "additionalProperties": {
    "type": ["boolean", "integer", "number", "string"]}}
_SHAPE = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1,
          "maxItems": 8}
_DATA = {"description": "Row-major values, flat or nested; strings for BYTES.",
         "type": "array"}

SCHEMAS: dict[str, Any] = {
    "Error": _ERROR,
    "MlflowError": _MLFLOW_ERROR,
    "ServerMetadata": {
        "type": "object", "required": ["name", "version", "extensions"],
        "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                       "extensions": {"type": "array", "items": {"type": "string"}},
                       "openapi": {"type": "string"}}},
    "TensorMetadata": {
        "type": "object", "required": ["name", "datatype", "shape"],
        "properties": {"name": {"type": "string"}, "datatype": {"type": "string"},
                       "shape": {"type": "array", "items": {"type": "integer"}},
                       "parameters": {"type": "object"}}},
    "ModelMetadata": {
        "type": "object", "required": ["name", "versions", "platform", "inputs", "outputs"],
        "properties": {"name": {"type": "string"},
                       "versions": {"type": "array", "items": {"type": "string"}},
                       "platform": {"type": "string"},
                       "inputs": {"type": "array",
                                  "items": {"$ref": "#/components/schemas/TensorMetadata"}},
                       "outputs": {"type": "array",
                                   "items": {"$ref": "#/components/schemas/TensorMetadata"}}}},
    "Ready": {"type": "object", "required": ["ready"],
              "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}}},
    "Live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "InferInput": {
        "type": "object", "required": ["name", "shape", "datatype"],
        "properties": {"name": {"type": "string"}, "shape": _SHAPE,
                       "datatype": {"enum": list(DATATYPES)},
                       "parameters": {"type": "object", "properties": {
                           "binary_data_size": {"type": "integer", "minimum": 0}}},
                       "data": _DATA}},
    "InferRequest": {
        "type": "object", "required": ["inputs"],
        "properties": {
            "id": {"type": "string"}, "parameters": _PARAMETERS,
            "inputs": {"type": "array", "minItems": 1,
                       "items": {"$ref": "#/components/schemas/InferInput"}},
            "outputs": {"type": "array", "items": {
                "type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "parameters": _PARAMETERS}}}}},
    "InferOutput": {
        "type": "object", "required": ["name", "shape", "datatype"],
        "properties": {"name": {"type": "string"}, "shape": {"type": "array", "items": {
            "type": "integer"}}, "datatype": {"type": "string"}, "data": _DATA,
            "parameters": {"type": "object"}}},
    "InferResponse": {
        "type": "object", "required": ["model_name", "outputs"],
        "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                       "id": {"type": "string"},
                       "outputs": {"type": "array",
                                   "items": {"$ref": "#/components/schemas/InferOutput"}}}},
    "Feedback": {
        "type": "object", "required": ["labels"],
        "properties": {"id": {"type": "string"}, "version": {"type": ["string", "integer"]},
                       "labels": {"type": "array"}, "predictions": {"type": "array"}}},
    "KServeRequest": {
        "type": "object",
        "properties": {"instances": {"type": "array", "minItems": 1},
                       "inputs": {"type": ["object", "array"]}}},
    "KServeResponse": {
        "type": "object", "required": ["predictions"],
        "properties": {"predictions": {"type": "array"},
                       "probabilities": {"type": "array"}}},
    "KServeModels": {"type": "object", "required": ["models"],
                     "properties": {"models": {"type": "array", "items": {"type": "string"}}}},
    "MlflowRequest": {
        "description": "One of MLflow's input forms: dataframe_split, dataframe_records, "
                       "instances or inputs.",
        "type": "object",
        "properties": {"dataframe_split": {"type": "object"},
                       "dataframe_records": {"type": "array"},
                       "instances": {"type": "array"},
                       "inputs": {"type": ["object", "array"]}}},
    "MlflowResponse": {"type": "object", "required": ["predictions"],
                       "properties": {"predictions": {"type": "array"}}},
}

# status → what the route answers with it, for the statuses every route shares
_COMMON = {"401": "no or an unknown API key", "403": "the key may not do this",
           "404": "no such model, version or route", "405": "wrong method",
           "413": "the body is over --max-body-mb", "429": "the key is over its rate limit",
           "503": "a model is not loaded or the server is overloaded"}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _answers(ok: str | None, *client: str, error: str = "Error") -> dict[str, Any]:
    """A route's responses: ``ok``'s schema on 200, ``error`` on each shared error status
    and on the ``client`` statuses (400, 422...) the route adds."""
    out: dict[str, Any] = {"200": {"description": "OK"}}
    if ok is not None:
        out["200"]["content"] = _json(ok)
    for status, text in [*_COMMON.items(), *((s, "the request does not fit") for s in client)]:
        out[status] = {"description": text, "content": _json(error)}
    return out


def _op(summary: str, ok: str | None, *client: str, body: str | None = None,
        params: Iterable[str] = (), error: str = "Error") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": _answers(ok, *client, error=error)}
    if params:
        op["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body is not None:
        op["requestBody"] = {"required": True, "content": _json(body)}
    return op


def document(models: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with ``models`` (those the caller may see) as the names."""
    names = sorted(models)
    name_schema: dict[str, Any] = {"type": "string", **({"enum": names} if names else {})}
    model = ("model_name",)
    pinned = ("model_name", "model_version")
    paths: dict[str, Any] = {
        "/v2": {"get": _op("Server metadata (OIP)", "ServerMetadata")},
        "/v2/health/live": {"get": _op("Liveness", "Live")},
        "/v2/health/ready": {"get": _op("Readiness: every model loaded", "Ready")},
        "/v2/models/{model_name}": {"get": _op("Model metadata", "ModelMetadata",
                                               params=model)},
        "/v2/models/{model_name}/ready": {"get": _op("Model readiness", "Ready", params=model)},
        "/v2/models/{model_name}/infer": {"post": _op(
            "Inference (OIP v2); binary tensors with Inference-Header-Content-Length",
            "InferResponse", "400", "422", body="InferRequest", params=model)},
        "/v2/models/{model_name}/versions/{model_version}": {"get": _op(
            "Metadata of one version", "ModelMetadata", "400", params=pinned)},
        "/v2/models/{model_name}/versions/{model_version}/ready": {"get": _op(
            "Readiness of one version", "Ready", "400", params=pinned)},
        "/v2/models/{model_name}/versions/{model_version}/infer": {"post": _op(
            "Inference on one version", "InferResponse", "400", "422", body="InferRequest",
            params=pinned)},
        "/v2/models/{model_name}/feedback": {"post": _op(
            "Labels for an endpoint's predictions (rollout analysis)", None, "400", "422",
            body="Feedback", params=model)},
        "/v1/models": {"get": _op("Served models (KServe v1)", "KServeModels")},
        "/v1/models/{model_name}": {"get": _op("Model status (KServe v1)", "Ready",
                                               params=model)},
        "/v1/models/{model_name}:predict": {"post": _op(
            "Inference (KServe v1)", "KServeResponse", "400", "422", body="KServeRequest",
            params=model)},
        "/invocations": {"post": _op(
            "Inference (MLflow scoring protocol; also text/csv)", "MlflowResponse", "400",
            "415", "422", body="MlflowRequest", error="MlflowError")},
        "/ping": {"get": {"summary": "Liveness (MLflow)", "responses": {
            "200": {"description": "OK"}}}},
        "/version": {"get": {"summary": "Server version (MLflow)", "responses": {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {
                "type": "string"}}}}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {
                "type": "string"}}}},
            **{s: r for s, r in _answers(None).items() if s in ("401", "403", "429")}}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelport data plane", "version": VERSION,
                 "description": "Open Inference Protocol v2, KServe v1 and MLflow's scoring "
                                "protocol over HTTP/1.1 (OIP over gRPC: serve --grpc-port)."},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": {
                "model_name": {"name": "model_name", "in": "path", "required": True,
                               "schema": name_schema},
                "model_version": {"name": "model_version", "in": "path", "required": True,
                                  "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"}},
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header",
                                           "name": "X-API-Key"}},
        },
        "security": [{"bearer": []}, {"apiKey": []}, {}],
    }
