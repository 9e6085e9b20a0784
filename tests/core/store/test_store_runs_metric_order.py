"""Sorting by a metric some runs lack: runs with it in value order (ties by id), then the
runs without it by id — page by page, both ways, with a filter and within an experiment."""

from __future__ import annotations

import pytest

from modelport.core.store import Store
from modelport.core.store.runs import Condition, MetricValue, RunRecord, Term

VALUES = {"a": 0.5, "b": 0.9, "c": 0.5, "d": None, "e": 0.1, "f": None, "g": 0.9, "h": None}


def _seed(store: Store) -> None:
    for run_id, value in VALUES.items():
        store.runs.create_run(RunRecord(
            id=run_id, name=run_id, experiment="x" if run_id < "g" else "y", status="FINISHED",
            start_time=1.0, end_time=2.0, duration=1.0, dataset_digest=None, git_commit=None,
            packages={}))
        store.runs.log_batch(run_id, {"p": "1" if run_id in "abdh" else "2"},
                             [] if value is None else [MetricValue("acc", 0, value)], {}, 1.0)


def expected(descending: bool, ids: str = "abcdefgh") -> list[str]:
    have = sorted((r for r in ids if VALUES[r] is not None),
                  key=lambda r: (VALUES[r], r), reverse=descending)
    lack = sorted((r for r in ids if VALUES[r] is None), reverse=descending)
    return have + lack


def pages(store: Store, descending: bool, size: int, conditions: list[Condition],
          experiment: str | None = None) -> list[str]:
    seen, token = [], None
    while True:
        page = store.runs.search(conditions, [(Term("metrics", "acc"), descending)],
                                 experiment, size, token)
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            return seen


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_pages_follow_the_order_across_the_missing_runs(store: Store, descending: bool,
                                                        size: int) -> None:
    _seed(store)
    assert pages(store, descending, size, []) == expected(descending)
    everything = store.runs.search([], [(Term("metrics", "acc"), descending)], None, None, None)
    assert [r.id for r in everything.runs] == expected(descending)
    one = Condition(Term("params", "p"), "=", "1")
    assert pages(store, descending, size, [one]) == expected(descending, "abdh")
    assert pages(store, descending, size, [], "x") == expected(descending, "abcdef")
