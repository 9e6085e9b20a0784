"""Signatures: inferred from a training frame, enforced on every batch.

Every batch shape a runtime receives (DataFrame, Arrow, JSON columns or rows, NumPy)
becomes the same float matrix in signature order; every malformed one is a
``SchemaError`` that names what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelport.core.signature import ColumnSpec, OutputSpec, Signature
from modelport.errors import SchemaError

FRAME = pd.DataFrame({
    "age": [31.5, 47.0, 22.25],
    "visits": np.array([3, 0, 12], dtype=np.int64),
    "member": [True, False, True],
})
# FRAME as the model sees it: signature order, floats
EXPECTED = np.array([[31.5, 3.0, 1.0], [47.0, 0.0, 0.0], [22.25, 12.0, 1.0]])


@pytest.fixture
def sig() -> Signature:
    return Signature.infer(FRAME, classes=np.array(["no", "yes"]))


# ---------------------------------------------------------------- inference

def test_infer_names_dtypes_and_classes(sig: Signature) -> None:
    assert sig.names == ["age", "visits", "member"]
    assert sig.inputs == [ColumnSpec("age", "float64"), ColumnSpec("visits", "int64"),
                          ColumnSpec("member", "bool")]
    assert sig.classes == ["no", "yes"]
    assert all(type(c) is str for c in sig.classes)  # plain Python, not numpy.str_
    assert sig.outputs == [OutputSpec("prediction", "float64", [-1]),
                           OutputSpec("probabilities", "float64", [-1, 2])]


def test_infer_a_regressor_and_plain_class_labels() -> None:
    regressor = Signature.infer(FRAME)
    assert regressor.classes is None
    assert [o.name for o in regressor.outputs] == ["prediction"]

    classifier = Signature.infer(FRAME, classes=np.array([0, 1, 2]), prediction_dtype="int64")
    assert classifier.classes == [0, 1, 2]
    assert all(type(c) is int for c in classifier.classes)
    assert classifier.outputs[0] == OutputSpec("prediction", "int64", [-1])
    assert classifier.outputs[1].shape == [-1, 3]


def test_infer_takes_nullable_pandas_dtypes() -> None:
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"),
                          "x": pd.array([0.5, None], dtype="Float32"),
                          "flag": pd.array([True, None], dtype="boolean")})
    assert Signature.infer(frame).inputs == [
        ColumnSpec("n", "int64"), ColumnSpec("x", "float32"), ColumnSpec("flag", "bool")]


def test_infer_names_columns_as_strings() -> None:
    assert Signature.infer(pd.DataFrame({0: [1.0], 1: [2]})).names == ["0", "1"]


@pytest.mark.parametrize("column", [
    pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02"])),
    pd.Series([1 + 2j, 3j]),
], ids=["datetime", "complex"])
def test_infer_refuses_a_column_that_is_not_numbers_bools_or_text(column: pd.Series) -> None:
    frame = pd.DataFrame({"age": [1.0, 2.0], "city": column})
    with pytest.raises(SchemaError, match=r"column 'city' has dtype .* convert it first"):
        Signature.infer(frame)


def test_to_dict_from_dict_round_trip_through_json(sig: Signature) -> None:
    data = sig.to_dict()
    assert data == {
        "inputs": [{"name": "age", "dtype": "float64"}, {"name": "visits", "dtype": "int64"},
                   {"name": "member", "dtype": "bool"}],
        "outputs": [{"name": "prediction", "dtype": "float64", "shape": [-1]},
                    {"name": "probabilities", "dtype": "float64", "shape": [-1, 2]}],
        "classes": ["no", "yes"],
    }
    assert Signature.from_dict(json.loads(json.dumps(data))) == sig
    regressor = Signature.infer(FRAME)
    assert Signature.from_dict(json.loads(json.dumps(regressor.to_dict()))) == regressor
    # outputs are optional in a stored dict
    assert Signature.from_dict({"inputs": data["inputs"]}).outputs == []


# ---------------------------------------------------------------- accepted batches

BATCHES: dict[str, Any] = {
    "dataframe": FRAME,
    "dataframe-reordered-extra": FRAME[["member", "age", "visits"]].assign(note="ignored"),
    "arrow-table": pa.table(FRAME.assign(extra=[1, 2, 3])),
    "arrow-record-batch": pa.RecordBatch.from_pandas(FRAME),
    "dict-of-lists": {"visits": [3, 0, 12], "age": [31.5, 47.0, 22.25],
                      "member": [True, False, True], "extra": ["x", "y", "z"]},
    "dict-of-arrays": {name: FRAME[name].to_numpy() for name in FRAME.columns},
    "list-of-row-dicts": [{"age": 31.5, "visits": 3, "member": True, "id": "a"},
                          {"member": False, "visits": 0, "age": 47.0},
                          {"age": 22.25, "visits": 12, "member": True}],
    "numpy-2d": EXPECTED.copy(),
    "numpy-2d-int": np.array([[31, 3, 1], [47, 0, 0], [22, 12, 1]]),
    "list-of-lists": EXPECTED.tolist(),
}


@pytest.mark.parametrize("name", list(BATCHES))
def test_to_matrix_accepts(sig: Signature, name: str) -> None:
    out = sig.to_matrix(BATCHES[name])
    assert out.dtype == np.float64 and out.shape == (3, 3) and out.flags.c_contiguous
    expected = np.floor(EXPECTED) if name == "numpy-2d-int" else EXPECTED
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("row", [np.array([31.5, 3, 1]), [31.5, 3, 1]], ids=["numpy", "list"])
def test_to_matrix_takes_a_single_row(sig: Signature, row: Any) -> None:
    np.testing.assert_array_equal(sig.to_matrix(row), EXPECTED[:1])


def test_to_matrix_in_the_runtime_dtype(sig: Signature) -> None:
    out = sig.to_matrix(FRAME, np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, EXPECTED.astype(np.float32))


def test_an_empty_frame_is_an_empty_matrix(sig: Signature) -> None:
    assert sig.to_matrix(FRAME.iloc[:0]).shape == (0, 3)


@pytest.mark.parametrize("batch", [
    [{"age": None, "visits": 3, "member": True}, {"age": 47.0, "visits": None, "member": None}],
    {"age": [None, 47.0], "visits": [3, None], "member": [True, None]},
    pa.table({"age": [None, 47.0], "visits": [3, None], "member": [True, None]}),
    pd.DataFrame({"age": [np.nan, 47.0], "visits": pd.array([3, None], dtype="Int64"),
                  "member": pd.array([True, None], dtype="boolean")}),
    np.array([[None, 3, True], [47.0, None, None]], dtype=object),
], ids=["json-rows", "json-columns", "arrow", "pandas-nullable", "numpy-object"])
def test_nulls_become_nan(sig: Signature, batch: Any) -> None:
    np.testing.assert_array_equal(sig.to_matrix(batch),
                                  np.array([[np.nan, 3.0, 1.0], [47.0, np.nan, np.nan]]))


# ---------------------------------------------------------------- refused batches

@pytest.mark.parametrize(("batch", "message"), [
    ({"age": [1.0], "member": [True]}, r"^missing column 'visits'$"),
    ({"age": [1.0]}, r"^missing columns 'visits', 'member'$"),
    (FRAME.drop(columns="member"), r"^missing column 'member'$"),
    (pa.table(FRAME.drop(columns="age")), r"^missing column 'age'$"),
    ([{"age": 1.0, "visits": 2, "member": True}, {"age": 1.0, "member": True}],
     r"^missing column 'visits' in a row$"),
], ids=["dict", "dict-two", "dataframe", "arrow", "row"])
def test_a_missing_column_is_named(sig: Signature, batch: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        sig.to_matrix(batch)


@pytest.mark.parametrize(("batch", "message"), [
    ({"age": [1.0, "old"], "visits": [1, 2], "member": [True, False]},
     r"column 'age' expects float values, got 'old'"),
    ({"age": [1.0, 2.0], "visits": ["3", "4"], "member": [True, False]},
     r"column 'visits' expects integer values, got '3'"),
    ([{"age": 1.0, "visits": 2, "member": "yes"}],
     r"column 'member' expects bool values, got 'yes'"),
    (FRAME.assign(visits=["few", "none", "many"]),
     r"column 'visits' expects integer values, got 'few'"),
    (pa.table(FRAME.assign(age=["x", "y", "z"])), r"column 'age' expects float values, got 'x'"),
    (np.array([[1.0, "x", True]], dtype=object),
     r"column 'visits' expects integer values, got 'x'"),
    (np.array([["1", "2", "3"]]), r"column 'age' expects float values, got '1'"),
    ({"age": [{"v": 1}], "visits": [1], "member": [True]},
     r"column 'age' expects float values, got \{'v': 1\}"),
    ({"age": [10**400], "visits": [1], "member": [True]},
     r"column 'age' expects float values, got a number too large"),
], ids=["mixed-list", "numeric-strings", "row-string", "dataframe", "arrow", "numpy-object",
        "numpy-strings", "object", "overflow"])
def test_a_wrong_value_names_its_column(sig: Signature, batch: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        sig.to_matrix(batch)


@pytest.mark.parametrize(("batch", "message"), [
    (np.ones((2, 4)), r"^expected 3 columns \(age, visits, member\), got 4$"),
    (np.ones((2, 2)), r"^expected 3 columns \(age, visits, member\), got 2$"),
    (np.ones(2), r"^expected 3 columns \(age, visits, member\), got 2$"),
    ([[1.0, 2.0, 3.0], [1.0, 2.0]], r"^row 1 has 2 values, expected 3 \(age, visits, member\)$"),
    (np.ones((2, 3, 1)), r"^expected a 2-D batch of rows, got an array with 3 dimension\(s\)$"),
], ids=["too-wide", "too-narrow", "short-row", "ragged-rows", "3-d"])
def test_a_wrong_shape_says_what_was_expected(sig: Signature, batch: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        sig.to_matrix(batch)


def test_wide_signatures_abbreviate_the_names() -> None:
    wide = Signature.infer(pd.DataFrame({f"f{i}": [1.0] for i in range(8)}))
    with pytest.raises(SchemaError, match=r"^expected 8 columns \(f0, f1, f2, f3, f4, …\), got 2$"):
        wide.to_matrix(np.ones((1, 2)))


@pytest.mark.parametrize(("batch", "message"), [
    ({"age": [1.0, 2.0], "visits": [1], "member": [True, False]},
     r"^column 'visits' has 1 values but column 'age' has 2 — every column needs one value"),
    ({"age": [[1.0, 2.0], [3.0]], "visits": [1, 2], "member": [True, False]},
     r"^column 'age' must hold one number per row, not nested lists$"),
    ({"age": [[1.0, 2.0], [3.0, 4.0]], "visits": [1, 2], "member": [True, False]},
     r"^column 'age' must be one value per row$"),
    ({"age": 1.0, "visits": 1, "member": True},
     r"^column 'age' must be a list with one value per row, got the single value 1\.0$"),
], ids=["ragged", "nested-ragged", "nested", "scalar"])
def test_ragged_or_nested_columns_are_named(sig: Signature, batch: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        sig.to_matrix(batch)


@pytest.mark.parametrize("batch", [42, "age,visits", pd.Series([1.0, 2.0, 3.0])],
                         ids=["int", "str", "series"])
def test_an_unreadable_batch_type_is_refused(sig: Signature, batch: Any) -> None:
    with pytest.raises(SchemaError, match=r"^cannot read a batch of type \w+ — pass a DataFrame"):
        sig.to_matrix(batch)


def test_rows_must_be_objects(sig: Signature) -> None:
    with pytest.raises(SchemaError, match="every row must be an object of column: value"):
        sig.to_matrix([{"age": 1.0, "visits": 1, "member": True}, 5])
