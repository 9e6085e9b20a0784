"""Missing and infinite values: never a silent wrong answer.

A model that cannot take a missing value (null, NaN) is refused it at the signature,
naming the column; an infinite value — an FP32 overflow arrives as one — is refused
for every model. Every runtime goes through ``Signature.to_matrix``, so this is the
one place that decides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.core.signature import Signature
from modelport.errors import SchemaError

FRAME = pd.DataFrame({"age": [31.5, 47.0], "visits": [3, 0]})


def sig(takes_missing: bool | None) -> Signature:
    return Signature(Signature.infer(FRAME).inputs, takes_missing=takes_missing)


@pytest.mark.parametrize("batch", [
    [{"age": None, "visits": 1}],  # JSON null (KServe v1 instances)
    {"age": [float("nan")], "visits": [1]},  # NaN (OIP JSON)
    np.array([[np.nan, 1.0]], dtype=np.float32),  # a binary FP32 tensor
    [[None, 1]],
    pd.DataFrame({"age": [np.nan], "visits": [1]}),
])
def test_a_model_that_cannot_take_missing_values_refuses_them_naming_the_column(
        batch: object) -> None:
    with pytest.raises(SchemaError, match=r"column .age. has a missing value .* row 0"):
        sig(False).to_matrix(batch)
    assert np.isnan(sig(True).to_matrix(batch)[0, 0])  # an imputing model takes it
    assert np.isnan(sig(None).to_matrix(batch)[0, 0])  # unknown (old signatures): as before


@pytest.mark.parametrize("takes_missing", [True, False, None])
@pytest.mark.parametrize("batch", [
    [{"age": 1.0, "visits": float("inf")}],
    np.array([[1.0, -np.inf]]),
    {"age": [2.0, 1.0], "visits": [1, float("-inf")]},
])
def test_an_infinite_value_is_refused_for_every_model(takes_missing: bool | None,
                                                      batch: object) -> None:
    with pytest.raises(SchemaError, match="column 'visits' has an infinite value"):
        sig(takes_missing).to_matrix(batch)


def test_a_number_that_overflows_float32_is_refused_not_served_as_inf() -> None:
    batch = [{"age": 1e39, "visits": 1}]
    assert sig(True).to_matrix(batch)[0, 0] == 1e39  # fits a float64
    with pytest.raises(SchemaError, match=r"column .age. has an infinite value in row 0 .*float32"):
        sig(True).to_matrix(batch, np.float32)  # what the ONNX runtime asks for


def test_infinity_is_named_before_a_missing_value_a_model_takes() -> None:
    batch = np.array([[np.nan, 1.0], [2.0, np.inf]])
    with pytest.raises(SchemaError, match="'visits' has an infinite value in row 1"):
        sig(True).to_matrix(batch)


def test_takes_missing_is_stored_only_when_known() -> None:
    assert "takes_missing" not in sig(None).to_dict()
    for value in (True, False):
        data = sig(value).to_dict()
        assert data["takes_missing"] is value
        assert Signature.from_dict(data).takes_missing is value
    assert Signature.from_dict(sig(None).to_dict()).takes_missing is None


def test_refused_lists_every_bad_row_for_a_batch_job() -> None:
    x = sig(False).to_matrix(np.array([[1.0, 2.0], [np.nan, 1.0], [3.0, np.inf]]), check=False)
    refused = sig(False).refused(x)
    assert sorted(refused) == [1, 2]
    assert refused[1].startswith("column 'age' has a missing value")
    assert refused[2].startswith("column 'visits' has an infinite value")
    assert sorted(sig(True).refused(x)) == [2]


def test_large_finite_values_are_not_taken_for_infinite() -> None:
    """The hot path sums a small matrix to see it is finite; a sum that overflows only
    sends it to the value-by-value look, which finds nothing wrong."""
    x = sig(False).to_matrix([[1e308, 1e308], [-1e308, 1.0]])
    assert x[0, 0] == 1e308 and np.isfinite(x).all()
    big = np.full((100, 2), 1e308)  # past the small-matrix path: one NumPy reduction
    assert sig(False).to_matrix(big).shape == (100, 2)
    big[99, 1] = np.nan
    with pytest.raises(SchemaError, match=r"'visits' has a missing value .* row 99"):
        sig(False).to_matrix(big)
