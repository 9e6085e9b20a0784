"""A registered classifier for the batch tests."""

from __future__ import annotations

import pytest
from _batchdata import FEATURES, frame

from modelport.core.workspace import Workspace


@pytest.fixture
def model(ws: Workspace):  # type: ignore[no-untyped-def]
    """A logistic regression on four features, registered as ``clf:1``; returns the estimator."""
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model

    train = frame(500, seed=1)
    clf = LogisticRegression().fit(train[FEATURES].to_numpy(), (train.a + train.b > 0).astype(int))
    register_model("clf", clf, X=train[FEATURES], ws=ws)
    return clf
