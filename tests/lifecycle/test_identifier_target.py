"""A target that names rows (an order id, a row number) is refused before any fitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.datasets import as_dataset
from modelport.lifecycle.train import check_target, train
from modelport.lifecycle.tuning_data import prepare

ROWS = 3000


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"order": [f"O{i:05d}" for i in range(ROWS)],
                         "rowno": rng.permutation(ROWS), "x": rng.normal(size=ROWS),
                         "price": rng.normal(100, 10, ROWS),
                         "label": rng.integers(0, 60, ROWS)})


@pytest.mark.parametrize("target, task, message", [
    ("order", "classification", "target column 'order' has 3,000 distinct values in 3,000 rows "
                                "— an identifier, not classes to learn; predict another column$"),
    ("price", "classification", "an identifier, not classes to learn; predict another column, "
                                "or give --task regression if it is a quantity$"),
    ("rowno", "regression", r"target column 'rowno' numbers the rows \(0 to 2999, each once\)"),
])
def test_an_identifier_target_is_refused(target: str, task: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        check_target(_frame(), target, task)


@pytest.mark.parametrize("target, task", [("price", "regression"),
                                          ("label", "classification")])
def test_real_targets_pass(target: str, task: str) -> None:
    check_target(_frame(), target, task)  # all distinct prices; 60 classes of ~50 rows each


@pytest.mark.storage_independent
def test_train_and_a_search_refuse_it_before_fitting(ws: Workspace, backend: str) -> None:
    frame = _frame().drop(columns=["rowno"])
    with pytest.raises(InvalidInputError, match="'order' has 3,000 distinct values"):
        train(frame, "order", "knn", ws=ws)
    with pytest.raises(InvalidInputError, match="'order' has 3,000 distinct values"):
        prepare(as_dataset(frame), "order", None, None, 0.2, 0, 3)
