"""``POST /api/v1/models/versions:batch`` over HTTP: what a hostile or careless client sends.

Every refusal is JSON with a stable code, names the item (its index) and field, and
leaves the store as it was: a batch is all or none. The store's side — numbering,
atomicity, projects — is the conformance suite's (tests/core/store).
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import TestClient

from modelport.core.keys import create_key
from modelport.core.store.registry import MAX_BATCH
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.app import MAX_BODY

pytestmark = pytest.mark.storage_independent
ROUTE = "/api/v1/models/versions:batch"
VERSION = {"format": "sklearn", "artifact_digest": "a" * 64, "artifact_size": 1,
           "sample_digest": None, "signature": {}, "input_example": None, "metrics": {},
           "run_id": None, "dataset_digest": None, "description": ""}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def batch(*names: str, **changes: Any) -> dict[str, Any]:
    return {"now": 1.0, "versions": [{"name": n, "version": {**VERSION, **changes},
                                      "tags": {"i": str(i)}} for i, n in enumerate(names)]}


def with_item(body: dict[str, Any], index: int, **item: Any) -> dict[str, Any]:
    body["versions"][index] = {**body["versions"][index], **item}
    return body


@pytest.fixture
def client(ws: Workspace) -> Any:
    secret = create_key("ci", ["write"], ws=ws)[1]  # before the server reads its keys
    with TestClient(create_app(ws)) as c:
        c.headers.update(bearer(secret))
        yield c


def test_a_batch_registers_in_one_call(client: Any) -> None:
    answer = client.post(ROUTE, json=batch("s1", "s2", "s1"))
    assert (answer.status_code, answer.json()) == (201, {"versions": [1, 1, 2]})
    assert client.get("/api/v1/models/s1/versions/2").json()["tags"] == {"i": "2"}


@pytest.mark.parametrize(("item", "field"), [
    ({"version": {**VERSION, "artifact_size": "big"}}, "versions[2].version.artifact_size"),
    ({"version": {k: v for k, v in VERSION.items() if k != "format"}},
     "versions[2].version"),
    ({"name": "../etc"}, "versions[2].name"),
    ({"name": ""}, "versions[2].name"),
    ({"name": "x" * 201}, "versions[2].name"),
    ({"version": {**VERSION, "description": "a\x00b"}}, "versions[2].version.description"),
    ({"tags": {"k": "\x00"}}, "versions[2].tags.k"),
    ({"version": {**VERSION, "artifact_size": 2**70}}, "versions[2].version.artifact_size"),
])
def test_a_bad_item_is_422_naming_it_and_nothing_is_written(client: Any, item: dict[str, Any],
                                                           field: str) -> None:
    answer = client.post(ROUTE, json=with_item(batch("s1", "s2", "s3", "s4"), 2, **item))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"
    assert field in answer.json()["error"], answer.json()
    assert client.get("/api/v1/models").json() == []


def test_a_batch_past_the_limit_is_413(client: Any) -> None:
    answer = client.post(ROUTE, json=batch(*(f"m{i}" for i in range(MAX_BATCH + 1))))
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large" and str(MAX_BATCH) in answer.json()["error"]
    assert client.get("/api/v1/models").json() == []


def test_a_body_past_the_limit_is_413(client: Any) -> None:
    big = batch("s1", description="x" * MAX_BODY)
    answer = client.post(ROUTE, json=big)
    assert (answer.status_code, answer.json()["code"]) == (413, "too_large")
    assert client.get("/api/v1/models").json() == []


def test_not_a_batch_is_422(client: Any) -> None:
    for body in ({"now": 1.0}, {"now": 1.0, "versions": {}}, [], {"now": "x", "versions": []}):
        answer = client.post(ROUTE, json=body)
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input"), body


def test_a_key_limited_to_models_registers_only_those(ws: Workspace) -> None:
    """Attack: a key limited to model ``ma`` slips another model into a batch. Refused
    (403 naming the item) whether that model exists or not, and nothing is written."""
    _, limited = create_key("ma only", ["write"], ["ma"], ws=ws)
    _, admin = create_key("root", ["admin"], ws=ws)
    with TestClient(create_app(ws)) as c:
        c.post(ROUTE, json=batch("other"), headers=bearer(admin))
        answers = [c.post(ROUTE, json=batch("ma", name), headers=bearer(limited))
                   for name in ("other", "absent")]
        assert [a.status_code for a in answers] == [403, 403]
        assert [a.json()["error"].replace(n, "X") for a, n in zip(
            answers, ("other", "absent"), strict=True)] == [answers[1].json()["error"].replace(
                "absent", "X")] * 2
        assert "versions[1]" in answers[0].json()["error"]
        assert c.get("/api/v1/models", headers=bearer(admin)).json()[0]["name"] == "other"
        assert len(c.get("/api/v1/models", headers=bearer(admin)).json()) == 1
        assert c.post(ROUTE, json=batch("ma", "ma"), headers=bearer(limited)).json() == {
            "versions": [1, 2]}


def test_a_batch_is_one_audited_write(ws: Workspace) -> None:
    _, admin = create_key("root", ["admin"], ws=ws)
    _, writer = create_key("trainer", ["write"], ws=ws)
    with TestClient(create_app(ws)) as c:
        assert c.post(ROUTE, json=batch("s1", "s2"), headers=bearer(writer)).status_code == 201
        log = c.get("/api/v1/audit", headers=bearer(admin)).json()
    assert [(e["method"], e["path"], e["status"], e["key_name"]) for e in log] == [
        ("POST", ROUTE, 201, "trainer")]


def test_the_route_is_in_the_openapi_document(client: Any) -> None:
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][ROUTE]["post"]
    assert "requestBody" in operation and {"201", "413", "422"} <= set(operation["responses"])
    # its types have names of their own: a run's batch keeps its schema's name for clients
    assert {"Batch", "VersionBatch", "BatchItem"} <= set(document["components"]["schemas"])


@pytest.mark.parametrize("name", ["a b", "-lead", "x" * 201, "a;b"])
def test_the_single_route_refuses_what_is_not_a_model_name(client: Any, name: str) -> None:
    """A REST client bypasses the CLI's check: the route itself refuses a name no model may
    have (it used to create a model named ``a b``)."""
    answer = client.post(f"/api/v1/models/{name}/versions",
                         json={"now": 1.0, "tags": {}, "version": VERSION})
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"
    assert "name" in answer.json()["error"]
    assert client.get("/api/v1/models").json() == []
