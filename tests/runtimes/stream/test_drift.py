"""Drift detectors on their own: a rise in the error is drift, a fall is not;
a shifted feature is named."""

from __future__ import annotations

import numpy as np
import pytest

from modelport.errors import InvalidInputError
from modelport.runtimes.stream.drift import DriftWatch

pytest.importorskip("river")


@pytest.mark.parametrize("detector", ["adwin", "page_hinkley"])
def test_a_rising_error_is_drift_near_the_change(detector: str) -> None:
    rng = np.random.default_rng(0)
    watch = DriftWatch(["a"], detector, watch_features=False)
    errors = np.r_[rng.random(3000) < 0.1, rng.random(2000) < 0.6].astype(float)
    seen = [i for i, e in enumerate(errors) if watch.error(float(e), i)]
    assert seen and 3000 <= seen[0] < 3400, seen[:3]


def test_a_falling_error_is_not_drift() -> None:
    rng = np.random.default_rng(1)
    watch = DriftWatch(["a"], "adwin", watch_features=False)
    errors = np.r_[rng.random(3000) < 0.6, rng.random(3000) < 0.1].astype(float)
    assert not any(watch.error(float(e), i) for i, e in enumerate(errors))


def test_a_shifted_feature_is_named_and_the_others_are_not() -> None:
    rng = np.random.default_rng(2)
    watch = DriftWatch(["steady", "moving"], reference=1000)
    drifted: list[str] = []
    for batch in range(120):  # 20 batches set the reference, 50 more the baseline
        x = rng.normal(size=(50, 2))
        if batch >= 70:
            x[:, 1] += 1.5
        drifted += watch.batch(x, batch * 50)
    assert "moving" in drifted and "steady" not in drifted
    assert watch.state.feature_drifts["moving"] >= 1


def test_an_unknown_detector_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown drift detector"):
        DriftWatch(["a"], "kswin")
