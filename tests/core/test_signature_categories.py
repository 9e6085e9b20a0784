"""Category (text) columns: inferred with their training values, sent to models as codes.

Every batch shape a runtime receives must give the same codes: a value's position in
the training categories, ``UNKNOWN`` (-1) for one never seen, NaN for a missing one.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelport.core.signature import MAX_CATEGORIES, UNKNOWN, ColumnSpec, Signature
from modelport.errors import SchemaError

FRAME = pd.DataFrame({
    "age": [31.5, 47.0, 22.25],
    "city": ["paris", "lyon", "paris"],
    "plan": pd.Categorical(["gold", None, "basic"]),
})
# lyon=0 paris=1; basic=0 gold=1
EXPECTED = np.array([[31.5, 1.0, 1.0], [47.0, 0.0, np.nan], [22.25, 1.0, 0.0]])


@pytest.fixture
def sig() -> Signature:
    return Signature.infer(FRAME)


def test_text_columns_are_categories_with_sorted_training_values(sig: Signature) -> None:
    assert sig.inputs == [ColumnSpec("age", "float64"),
                          ColumnSpec("city", "string", ["lyon", "paris"]),
                          ColumnSpec("plan", "string", ["basic", "gold"])]
    assert sig.categorical and not Signature.infer(FRAME[["age"]]).categorical
    data = json.loads(json.dumps(sig.to_dict()))
    assert data["inputs"][0] == {"name": "age", "dtype": "float64"}  # numeric: as before
    assert data["inputs"][1] == {"name": "city", "dtype": "string",
                                 "categories": ["lyon", "paris"]}
    assert Signature.from_dict(data) == sig


def test_object_columns_of_numbers_or_bools_are_categories_too() -> None:
    frame = pd.DataFrame({"size": pd.Series([3, "L", 3], dtype=object),
                          "flag": pd.Series([True, False, None], dtype=object)})
    sig = Signature.infer(frame)
    assert [c.categories for c in sig.inputs] == [["3", "L"], ["False", "True"]]
    # a client may send 3, "3" or b"3" for the category "3", and JSON true for "True"
    np.testing.assert_array_equal(
        sig.to_matrix({"size": [3, "3", b"3", "L"], "flag": [True, "True", False, None]}),
        [[0, 1], [0, 1], [0, 0], [1, np.nan]])


@pytest.mark.parametrize("batch", [
    FRAME,
    pa.Table.from_pandas(FRAME),
    pa.table({"age": FRAME["age"], "city": pa.array(FRAME["city"]).dictionary_encode(),
              "plan": ["gold", None, "basic"]}),
    {"age": [31.5, 47.0, 22.25], "city": ["paris", "lyon", "paris"],
     "plan": ["gold", None, "basic"]},
    json.loads(FRAME.to_json(orient="records")),
    [[31.5, "paris", "gold"], [47.0, "lyon", None], [22.25, "paris", "basic"]],
    np.array([[31.5, b"paris", b"gold"], [47.0, b"lyon", None], [22.25, b"paris", b"basic"]],
             dtype=object),
], ids=["pandas", "arrow", "arrow-dictionary", "columns", "records", "rows", "bytes"])
def test_every_batch_shape_gives_the_same_codes(sig: Signature, batch: Any) -> None:
    np.testing.assert_array_equal(sig.to_matrix(batch), EXPECTED)
    assert sig.to_matrix(batch, np.float32).dtype == np.float32


def test_unknown_and_missing_values(sig: Signature) -> None:
    rows = [{"age": 1.0, "city": "nice", "plan": float("nan")},
            {"age": None, "city": None, "plan": pd.NA}]
    np.testing.assert_array_equal(sig.to_matrix(rows),
                                  [[1.0, UNKNOWN, np.nan], [np.nan, np.nan, np.nan]])


def test_a_numeric_matrix_is_taken_as_codes(sig: Signature) -> None:
    # what to_matrix returns goes back in unchanged (parity checks, batch scoring)
    np.testing.assert_array_equal(sig.to_matrix(EXPECTED), EXPECTED)


def test_numeric_columns_still_refuse_text(sig: Signature) -> None:
    with pytest.raises(SchemaError, match="column 'age' expects float values, got 'old'"):
        sig.to_matrix([["old", "paris", "gold"]])


def test_a_cell_that_is_not_one_value_is_refused(sig: Signature) -> None:
    with pytest.raises(SchemaError, match="column 'city' expects one text value per row"):
        sig.to_matrix({"age": [1.0], "city": [{"name": "paris"}], "plan": ["gold"]})
    with pytest.raises(SchemaError, match="column 'city' must be one value per row"):
        sig.to_matrix({"age": [1.0], "city": [["paris"]], "plan": ["gold"]})
    with pytest.raises(SchemaError, match="column 'city' must be one value per row"):
        sig.to_matrix({"age": [1.0], "city": "paris", "plan": ["gold"]})


def test_an_identifier_is_not_a_category() -> None:
    ok = pd.DataFrame({"id": [f"u{i}" for i in range(MAX_CATEGORIES)]})
    assert len(Signature.infer(ok).inputs[0].categories or []) == MAX_CATEGORIES
    too_many = pd.DataFrame({"id": [f"u{i}" for i in range(MAX_CATEGORIES + 1)]})
    with pytest.raises(SchemaError, match=r"column 'id' has 1,001 distinct values — more than "
                                          r"1,000 is an identifier or free text.*drop"):
        Signature.infer(too_many)


@pytest.mark.parametrize("empty", [pd.Series([np.nan, np.nan]), pd.Series([None, None]),
                                   pd.Series([pd.NA, pd.NA], dtype="string")],
                         ids=["float", "object", "string"])
def test_a_column_with_no_values_is_refused(empty: pd.Series) -> None:
    with pytest.raises(SchemaError, match=r"column 'gone' has no values .* drop it or fill it"):
        Signature.infer(pd.DataFrame({"x": [1.0, 2.0], "gone": empty}))
