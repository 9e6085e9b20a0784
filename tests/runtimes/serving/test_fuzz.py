"""Fuzzed dict and CSV bodies on every protocol, in-process: never a 5xx, always a JSON error.

The app is called directly (no sockets), so hypothesis gets through hundreds of
bodies a second: KServe v1 instances and TF-Serving columnar inputs, MLflow's
four JSON forms, OIP JSON tensors, and CSV text.
"""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelport.runtimes.serving.http import Request

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


def _answer(app, path: str, body: bytes, content_type: str = "application/json") -> int:  # type: ignore
    serving, loop = app
    response = loop.run_until_complete(serving.respond(
        Request("POST", path, {"content-type": content_type}, body)))
    assert response.status < 500, (path, body[:300], response.body)
    if response.status != 200:
        assert isinstance(orjson.loads(response.body)["error"], str)
    return response.status


def _json(body: object) -> bytes:
    return json.dumps(body).encode()  # not orjson: integers past 64 bits are fuzzed too


scalars = (st.none() | st.booleans() | st.integers(-10**30, 10**30)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=6))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=12)
names = st.sampled_from(COLUMNS) | st.text(max_size=6)
numbers = st.floats(-10, 10, allow_nan=False) | st.integers(-5, 5)
# near-valid shapes find more than random JSON: rows of about the right width, ragged columns
rows = st.lists(numbers, min_size=3, max_size=5) | st.dictionaries(names, numbers | values,
                                                                  max_size=5) | values
column = st.lists(numbers | values, max_size=4) | numbers | values
columnar = st.dictionaries(names, column, max_size=5)
v1_bodies = (st.fixed_dictionaries({"instances": st.lists(rows, max_size=4) | values})
             | st.fixed_dictionaries({"inputs": columnar | st.lists(rows, max_size=4)})
             | values)
mlflow_bodies = (
    st.fixed_dictionaries({"dataframe_split": st.fixed_dictionaries(
        {"columns": st.lists(names, max_size=5) | values,
         "data": st.lists(st.lists(numbers | values, max_size=5), max_size=4) | values})})
    | st.fixed_dictionaries({"dataframe_records": st.lists(
        st.dictionaries(names, numbers | values, max_size=5), max_size=4) | values})
    | st.fixed_dictionaries({"instances": st.lists(rows, max_size=4) | values})
    | st.fixed_dictionaries({"inputs": columnar | st.lists(rows, max_size=4) | values})
    | values)
tensors = st.fixed_dictionaries({
    "name": st.sampled_from(["input", *COLUMNS]) | st.text(max_size=4),
    "shape": st.lists(st.integers(0, 5), min_size=1, max_size=3) | values,
    "datatype": st.sampled_from(["FP64", "FP32", "INT64", "BOOL", "BYTES", "UINT8", "FP16"])
    | values,
    "data": st.lists(numbers | values, max_size=20) | values,
}, optional={"parameters": st.dictionaries(st.sampled_from(["binary_data_size", "x"]),
                                           values, max_size=2)})
oip_bodies = st.fixed_dictionaries({"inputs": st.lists(tensors, min_size=1, max_size=4)},
                                   optional={"outputs": values, "parameters": values,
                                             "id": values}) | values


@FUZZ
@given(body=v1_bodies)
def test_kserve_v1_bodies(app, body) -> None:  # type: ignore[no-untyped-def]
    _answer(app, "/v1/models/iris:predict", _json(body))


@FUZZ
@given(body=mlflow_bodies)
def test_mlflow_json_bodies(app, body) -> None:  # type: ignore[no-untyped-def]
    _answer(app, "/invocations", _json(body))


@FUZZ
@given(body=oip_bodies)
def test_oip_json_bodies(app, body) -> None:  # type: ignore[no-untyped-def]
    _answer(app, "/v2/models/iris/infer", _json(body))
    _answer(app, "/v2/models/iris/versions/2/infer", _json(body))


cells = st.sampled_from(["5.1", "0", "-1e308", "1e999", "nan", "", "a", '"x,y"', '"', "1,2",
                         "  3 ", "\x00", "é", "True"]) | st.text(max_size=4)
csv_rows = st.lists(st.lists(cells, min_size=0, max_size=7).map(",".join), max_size=6)
headers = st.lists(st.sampled_from(COLUMNS) | st.text(max_size=5), max_size=8).map(",".join)


@FUZZ
@given(header=headers, lines=csv_rows, ending=st.sampled_from(["\n", "\r\n", "\r", ""]))
def test_csv_bodies(app, header: str, lines: list[str], ending: str) -> None:  # type: ignore
    body = ending.join([header, *lines]).encode("utf-8", "surrogatepass")
    _answer(app, "/invocations", body, "text/csv")


@FUZZ
@given(body=st.binary(max_size=200))
def test_raw_bytes(app, body: bytes) -> None:  # type: ignore[no-untyped-def]
    for path in ("/invocations", "/v1/models/iris:predict", "/v2/models/iris/infer"):
        _answer(app, path, body)
    _answer(app, "/invocations", body, "text/csv")


@pytest.mark.parametrize("path, body, status", [
    ("/invocations", {"inputs": {"f0": [[1], 2]}}, 422),  # the ragged body
    ("/invocations", {"inputs": {c: [[1], 2] for c in COLUMNS}}, 422),
    ("/v1/models/iris:predict", {"inputs": {c: [[1], 2] for c in COLUMNS}}, 422),
    ("/v1/models/iris:predict", {"instances": [[1, 2, 3, [4]], [1, 2, 3, 4]]}, 422),
    ("/invocations", {"dataframe_split": {"columns": COLUMNS, "data": [[1, 2, 3, [4, 5]]]}},
     422),
    ("/invocations", {"dataframe_records": [{c: [1, [2]] for c in COLUMNS}]}, 422),
    ("/v2/models/iris/infer", {"inputs": [{"name": "input", "shape": [2, 2], "datatype":
                                           "FP64", "data": [[1, 2], [3]]}]}, 422),
])
def test_ragged_arrays_are_422(app, path: str, body: object, status: int) -> None:  # type: ignore
    assert _answer(app, path, _json(body)) == status
