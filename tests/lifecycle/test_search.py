from __future__ import annotations

import random

import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.search import parse_filter, search_runs
from modelport.lifecycle.tracking import create_run


@pytest.fixture
def runs(ws: Workspace) -> list[dict]:
    rng = random.Random(7)
    made = []
    for i in range(60):
        run = create_run(name=f"r{i:02d}", experiment="a" if i % 2 else "b", ws=ws)
        data = {"acc": round(rng.random(), 6), "depth": str(i % 4), "team": f"t{i % 3}"}
        metrics = {"acc": data["acc"]} if i % 10 else {}  # every 10th run lacks the metric
        run.log_batch(params={"max_depth": data["depth"]}, metrics=metrics,
                      tags={"team": data["team"]})
        run.end()
        made.append({"name": run.name, **data, "has_acc": bool(metrics),
                     "experiment": run.experiment})
    return made


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.name for r in page.runs]


def test_filter_and_order(ws: Workspace, runs: list[dict]) -> None:
    page = search_runs("metrics.acc > 0.5 and params.max_depth = '2'",
                       order_by="metrics.acc DESC", max_results=100, ws=ws)
    expected = sorted((r for r in runs if r["has_acc"] and r["acc"] > 0.5 and r["depth"] == "2"),
                      key=lambda r: -r["acc"])
    assert _names(page) == [r["name"] for r in expected]
    assert page.next_page_token is None
    assert all(r.params["max_depth"] == "2" for r in page.runs)


def test_tags_attributes_like(ws: Workspace, runs: list[dict]) -> None:
    names = set(_names(search_runs("tags.team = 't1' and experiment = 'a'", max_results=None,
                                   ws=ws)))
    assert names == {r["name"] for r in runs if r["team"] == "t1" and r["experiment"] == "a"}
    assert len(search_runs("name LIKE 'r0%'", max_results=None, ws=ws).runs) == 10
    assert len(search_runs("name ILIKE 'R0%'", max_results=None, ws=ws).runs) == 10
    assert search_runs("status != 'FINISHED'", ws=ws).runs == []


def test_runs_without_the_metric_sort_last_both_ways(ws: Workspace, runs: list[dict]) -> None:
    for direction in ("ASC", "DESC"):
        page = search_runs(order_by=f"metrics.acc {direction}", max_results=None, ws=ws)
        flags = [("acc" in r.metrics) for r in page.runs]
        assert flags == sorted(flags, reverse=True), direction
        values = [r.metrics["acc"] for r in page.runs if "acc" in r.metrics]
        assert values == sorted(values, reverse=direction == "DESC")


@pytest.mark.parametrize("order", ["metrics.acc DESC", "metrics.acc", "params.max_depth DESC",
                                   "name", None])
def test_keyset_pages_cover_every_run_once(ws: Workspace, runs: list[dict],
                                           order: str | None) -> None:
    seen, token = [], None
    while True:
        page = search_runs(order_by=order, max_results=7, page_token=token, ws=ws)
        seen += _names(page)
        token = page.next_page_token
        if token is None:
            break
    assert sorted(seen) == sorted(r["name"] for r in runs)
    assert seen == _names(search_runs(order_by=order, max_results=None, ws=ws))


@pytest.mark.parametrize("text, message", [
    ("metrics.acc >", "cannot parse"),
    ("metrics.acc > 'x'", "numeric"),
    ("params.depth > 3", "holds text"),
    ("foo = 1", "unknown run attribute"),
    ("metrics.acc > 0.5 or params.a = '1'", "cannot parse"),
])
def test_bad_filters_are_clear_errors(ws: Workspace, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        search_runs(text, ws=ws)


def test_bad_order_and_token(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match="cannot parse ordering"):
        search_runs(order_by="metrics.acc sideways", ws=ws)
    with pytest.raises(InvalidInputError, match="page token"):
        search_runs(page_token="garbage", ws=ws)
    with pytest.raises(InvalidInputError, match="at least 1"):
        search_runs(max_results=0, ws=ws)


def test_parse_filter_quoting() -> None:
    (cond,) = parse_filter("tags.`my key` = 'it''s'")
    assert cond.term.key == "my key" and cond.value == "it's"
