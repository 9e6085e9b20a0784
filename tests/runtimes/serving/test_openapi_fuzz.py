"""The data plane's OpenAPI document, checked by schemathesis against a live ``modelport serve``:
generated requests (valid and not) to every route never get a 5xx, and every answer fits the
document — status, content type and body."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from servers import Server

CHECKS = [schemathesis.checks.not_a_server_error, status_code_conformance,
          content_type_conformance, response_schema_conformance]


def test_no_5xx_and_every_answer_fits_the_document(server: Server) -> None:
    # driven by hand, operation by operation: schemathesis' pytest plugin does not load
    # under this pytest, and a live server is only known inside a test anyway
    schema = schemathesis.openapi.from_url(f"{server.url}/v2/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def check(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        check()


def test_the_document_names_the_served_models_and_is_linked_from_v2(server: Server) -> None:
    with server.client() as client:
        assert client.get("/v2").json()["openapi"] == "/v2/openapi.json"
        doc = client.get("/v2/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["components"]["parameters"]["model_name"]["schema"]["enum"]) >= {"iris"}
    assert "/v2/models/{model_name}/infer" in doc["paths"]
