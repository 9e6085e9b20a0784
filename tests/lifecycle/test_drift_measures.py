"""Drift by effect size: no alarm on a million undrifted rows (fast); real shifts flagged."""

from __future__ import annotations

import time

import numpy as np
import pytest

from modelport.core.signature import ColumnSpec, Signature
from modelport.errors import InvalidInputError
from modelport.lifecycle import drift, profile
from modelport.lifecycle.monitoring import parse_period, wilson

SIGNATURE = Signature([ColumnSpec(f"x{i}", "float64") for i in range(17)]
                      + [ColumnSpec("count", "int64"), ColumnSpec("flag", "bool"),
                         ColumnSpec("city", "string", ["a", "b", "c", "d"])],
                      classes=["no", "yes"])


def draw(rows: int, seed: int, shift: float = 0.0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of one fixed distribution (``x3`` moved by ``shift`` standard deviations)
    and class predictions."""
    rng = np.random.default_rng(seed)
    columns = {f"x{i}": rng.normal(i, 1 + i / 4, rows) for i in range(17)}
    columns["x3"] = columns["x3"] + shift * 1.75
    columns["count"] = rng.poisson(4, rows).astype(float)
    columns["flag"] = (rng.random(rows) < 0.2).astype(float)
    columns["city"] = rng.choice([0.0, 1.0, 2.0, 3.0], rows, p=[0.4, 0.3, 0.2, 0.1])
    predictions = np.where(rng.random(rows) < 0.3, "yes", "no")
    return columns, predictions


@pytest.fixture(scope="module")
def baseline() -> dict:  # type: ignore[type-arg]
    columns, predictions = draw(200_000, seed=0)
    matrix = np.column_stack([columns[n] for n in SIGNATURE.names])
    return profile.build(SIGNATURE, matrix, predictions)


def test_a_million_rows_from_the_training_distribution_flag_nothing_and_fast(baseline) -> None:  # type: ignore
    columns, predictions = draw(1_000_000, seed=1)
    started = time.perf_counter()
    report = drift.compare(baseline, columns, predictions)
    elapsed = time.perf_counter() - started
    assert report["status"] == "ok", {n: c for n, c in report["features"].items()
                                      if c["status"] != "ok"}
    assert all(c["psi"] < 0.001 for c in report["features"].values())
    assert report["prediction"]["status"] == "ok"
    assert elapsed < 10  # ~1.5 s measured on a shared 2-core machine; vectorised per column


def test_a_fifth_of_a_standard_deviation_is_caught_on_enough_rows(baseline) -> None:  # type: ignore
    columns, predictions = draw(5000, seed=2, shift=0.2)
    report = drift.compare(baseline, columns, predictions)
    flagged = {n for n, c in report["features"].items() if c["status"] != "ok"}
    assert flagged == {"x3"} and report["features"]["x3"]["status"] == "drift"
    assert report["features"]["x3"]["wasserstein"] == pytest.approx(0.2, abs=0.05)


def test_small_undrifted_windows_stay_quiet_and_tiny_ones_are_not_judged(baseline) -> None:  # type: ignore
    alarms = 0
    for seed in range(20):
        columns, predictions = draw(300, seed=100 + seed)
        report = drift.compare(baseline, columns, predictions)
        alarms += sum(c["status"] == "drift" for c in report["features"].values())
    assert alarms <= 2  # of 400 column judgements on 300-row windows
    columns, predictions = draw(50, seed=3, shift=3.0)
    report = drift.compare(baseline, columns, predictions)
    assert report["status"] == drift.FEW and report["features"]["x3"]["status"] == drift.FEW


def test_categories_missing_values_and_out_of_range(baseline) -> None:  # type: ignore
    columns, predictions = draw(10_000, seed=4)
    columns["city"][:1000] = -1.0  # unseen
    columns["x5"][:1500] = np.nan
    columns["x7"][:800] = 1e6  # far beyond the training maximum
    predictions[:] = "yes"  # the model now says yes to everyone
    report = drift.compare(baseline, columns, predictions)
    features = report["features"]
    assert features["city"]["unseen"] == pytest.approx(0.1)
    assert features["x5"]["missing"] == pytest.approx(0.15)
    assert features["city"]["status"] == features["x5"]["status"] == "drift"
    assert features["x7"]["out_of_range"] == pytest.approx(0.08, abs=0.001)
    assert features["x7"]["status"] == "drift"
    assert report["prediction"]["status"] == "drift"
    assert {n for n, c in features.items() if c["status"] != "ok"} == {"city", "x5", "x7"}


def test_a_window_missing_a_column_reports_it_all_missing(baseline) -> None:  # type: ignore
    columns, predictions = draw(1000, seed=5)
    del columns["x2"]
    report = drift.compare(baseline, columns, predictions)
    assert report["features"]["x2"]["missing"] == 1.0
    assert report["features"]["x2"]["status"] == "drift"


def test_psi_and_wilson_by_hand() -> None:
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0
    expected = (0.7 - 0.5) * np.log(0.7 / 0.5) + (0.3 - 0.5) * np.log(0.3 / 0.5)
    assert drift.psi(np.array([0.5, 0.5]), np.array([0.7, 0.3])) == pytest.approx(expected)
    low, high = wilson(90, 100)
    assert (round(low, 3), round(high, 3)) == (0.826, 0.945)
    assert wilson(0, 0) == (0.0, 1.0) and wilson(10, 10)[1] == pytest.approx(1.0)


def test_baseline_periods() -> None:
    start, end = parse_period("2026-11-01..2026-11-08T12:00")
    assert end - start == 7.5 * 86400
    for bad in ("yesterday", "2026-11-08..2026-11-01", "2026-11-01", "..",
                "2026-13-01..2026-12-01"):
        with pytest.raises(InvalidInputError, match="baseline"):
            parse_period(bad)
