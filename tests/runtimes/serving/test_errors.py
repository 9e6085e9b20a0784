"""Bad input gets the right status and a JSON error naming the problem — never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOOD = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                    "data": [5.1, 3.5, 1.4, 0.2]}]}


@pytest.mark.parametrize("path, body, status, message", [
    ("/v2/models/iris/infer", b"{not json", 400, "malformed JSON"),
    ("/v2/models/iris/infer", b"", 400, "empty"),
    ("/v2/models/iris/infer", b"[1, 2]", 400, "JSON object"),
    ("/v2/models/iris/infer", b'{"inputs": []}', 400, "non-empty"),
    ("/v2/models/iris/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 3],
     "datatype": "FP64", "data": [1, 2, 3]}]}).encode(), 422, "expected 4 columns"),
    ("/v2/models/iris/infer", json.dumps({"inputs": [{"name": "input", "shape": [2, 4],
     "datatype": "FP64", "data": [1, 2, 3]}]}).encode(), 400, "needs 8 values"),
    ("/v2/models/iris/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 4],
     "datatype": "FP99", "data": [1, 2, 3, 4]}]}).encode(), 400, "unknown datatype"),
    ("/v2/models/iris/infer", json.dumps({"inputs": [{"name": "input", "shape": [1, 4],
     "datatype": "FP64", "data": ["a", "b", "c", "d"]}]}).encode(), 422, "datatype"),
    ("/v2/models/iris/infer", json.dumps({"inputs": [{"name": "sepal length (cm)",
     "shape": [1], "datatype": "FP64", "data": [1]}]}).encode(), 422, "missing column"),
    ("/v2/models/nosuch/infer", json.dumps(GOOD).encode(), 404, "not served"),
    ("/v2/models/iris/versions/99/infer", json.dumps(GOOD).encode(), 404, "no version 99"),
    ("/v1/models/iris:predict", b'{"instances": [[1, 2]]}', 422, "expected 4"),
    ("/v1/models/iris:predict", b'{"rows": []}', 400, "instances"),
    ("/v1/models/iris:explain", b"{}", 404, "unknown verb"),
    ("/v2/nowhere", b"{}", 404, "no route"),
])
def test_bad_requests(server, path: str, body: bytes, status: int, message: str) -> None:  # type: ignore
    with server.client() as c:
        r = c.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_wrong_method_and_nan_input(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        r = c.get("/v2/models/iris/infer")
        assert r.status_code == 405 and "use POST" in r.json()["error"]
        # a trained ridge imputes missing values (test_missing_values.py: a model that
        # cannot take them is refused them with a 422 naming the column)
        nan = {"inputs": [{"name": "input", "shape": [1, 10], "datatype": "FP64",
                           "data": [None] * 10}]}
        r = c.post("/v2/models/diabetes/infer", json=nan)
        assert r.status_code == 200 and len(r.json()["outputs"][0]["data"]) == 1


def test_body_limit_gives_413(model_home) -> None:  # type: ignore[no-untyped-def]
    from servers import start_server, stop_server

    srv = start_server(model_home, "iris", "--max-body-mb", "0.01")
    try:
        with srv.client() as c:
            big = {"inputs": [{"name": "input", "shape": [1000, 4], "datatype": "FP64",
                               "data": [1.0] * 4000}]}
            r = c.post("/v2/models/iris/infer", json=big)
            assert r.status_code == 413 and "limit" in r.json()["error"]
            assert c.post("/v2/models/iris/infer", json=GOOD).status_code == 200
    finally:
        stop_server(srv)


finite = st.floats(allow_nan=False, allow_infinity=False)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | finite
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8),
                                                                       children, max_size=5),
    max_leaves=25)
tensors = st.fixed_dictionaries({
    "name": st.sampled_from(["input", "sepal length (cm)", "x"]) | st.text(max_size=5),
    "shape": st.lists(st.integers(-1, 6), max_size=3) | json_values,
    "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BOOL", "BYTES", "UINT8"]) | json_values,
    "data": st.lists(finite | st.integers(-5, 5) | st.text(max_size=3),
                     max_size=30) | json_values,
})
bodies = (st.fixed_dictionaries({"inputs": st.lists(tensors, max_size=4)},
                                optional={"outputs": json_values, "parameters": json_values,
                                          "id": json_values})
          | json_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=bodies, target=st.sampled_from(["/v2/models/iris/infer",
                                            "/v2/models/iris/versions/2/infer",
                                            "/v2/models/flowers/infer",
                                            "/v1/models/iris:predict", "/invocations"]))
def test_fuzzed_bodies_never_give_500(server, body, target: str) -> None:  # type: ignore
    with server.client() as c:
        r = c.post(target, json=body)
    assert r.status_code in (200, 400, 404, 413, 422), (body, r.text)
    if r.status_code != 200:
        assert isinstance(r.json()["error"], str)
