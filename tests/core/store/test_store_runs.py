"""The runs repository's contract, on every store implementation and database."""

from __future__ import annotations

import base64
import dataclasses
import threading

import pytest

from modelport.core.store import Store
from modelport.core.store.rest import RestStore
from modelport.core.store.runs import (
    Condition,
    DatasetRecord,
    MetricValue,
    RunRecord,
    Term,
)
from modelport.errors import ConflictError, InvalidInputError, NotFoundError


def run(run_id: str, start: float = 1.0, experiment: str = "default") -> RunRecord:
    return RunRecord(id=run_id, name=f"run-{run_id}", experiment=experiment, status="RUNNING",
                     start_time=start, end_time=None, duration=None, dataset_digest=None,
                     git_commit="abc", packages={"numpy": "2.0"})


def test_a_run_logs_and_reads_back(store: Store) -> None:
    runs = store.runs
    runs.create_run(run("r1"))
    runs.log_batch("r1", {"depth": "5"}, [MetricValue("loss", 0, 0.9), MetricValue("loss", 2, 0.5)],
                   {"team": "ml"}, now=10.0)
    runs.log_batch("r1", {"depth": "5"}, [MetricValue("loss", 1, 0.7)], {"team": "ds"}, now=11.0)
    runs.log_artifact("r1", "model/model", "d" * 64, 42)
    runs.log_dataset("r1", DatasetRecord("e" * 64, "iris", 150, ["a", "b"]), now=12.0)
    runs.end_run("r1", "FINISHED", 20.0, 19.0)
    [got] = runs.get_runs(["r1"])
    assert got == RunRecord(
        id="r1", name="run-r1", experiment="default", status="FINISHED", start_time=1.0,
        end_time=20.0, duration=19.0, dataset_digest="e" * 64, git_commit="abc",
        packages={"numpy": "2.0"}, params={"depth": "5"},
        metrics={"loss": 0.5},  # the highest step's value, not the last one written
        tags={"team": "ds"}, artifacts={"model/model": "d" * 64})
    assert runs.metric_history("r1", "loss") == [(0, 0.9), (1, 0.7), (2, 0.5)]
    assert runs.metric_history("r1", "nope") == []


def test_values_read_back_exactly(store: Store) -> None:
    """Every float64 bit, infinities, and keys JSON would have to escape, on every store."""
    values = {"sum": 0.1 + 0.2, "tiny": 5e-324, "big": 1.7976931348623157e308,
              'q"uote\\s': -0.0, "ключ": 1 / 3}
    if not isinstance(store, RestStore):  # JSON cannot carry them to a server (a known gap)
        values |= {"up": float("inf"), "down": float("-inf")}
    store.runs.create_run(run("r1"))
    store.runs.log_batch("r1", {'p"1': 'v"\\n', "é": "ü"},
                         [MetricValue(k, 0, v) for k, v in values.items()],
                         {"t\n": "{}"}, now=1.0)
    store.runs.create_run(run("r2"))  # nothing logged: empty, not missing
    got, empty = store.runs.get_runs(["r1", "r2"])
    assert got.metrics == values and all(type(v) is float for v in got.metrics.values())
    assert (got.params, got.tags) == ({'p"1': 'v"\\n', "é": "ü"}, {"t\n": "{}"})
    assert (empty.params, empty.metrics, empty.tags, empty.artifacts) == ({}, {}, {}, {})


def test_a_whole_run_logs_in_one_call_and_again_changes_nothing(store: Store) -> None:
    whole = dataclasses.replace(run("w1"), status="FINISHED", end_time=3.0, duration=2.0,
                                params={"depth": "5"}, tags={"team": "ml"},
                                metrics={"acc": 0.9})
    history = [MetricValue("loss", 0, 0.9), MetricValue("loss", 1, 0.4)]
    for _ in range(2):  # a retry after a lost answer
        store.runs.log_run(whole, history, now=4.0)
    [got] = store.runs.get_runs(["w1"])
    assert got == RunRecord(**{**whole.__dict__, "metrics": {"acc": 0.9, "loss": 0.4}})
    assert store.runs.metric_history("w1", "loss") == [(0, 0.9), (1, 0.4)]
    # a run created earlier is finished by it; a param it already holds cannot change
    store.runs.create_run(run("w2"))
    store.runs.log_run(RunRecord(**{**whole.__dict__, "id": "w2"}), [], now=4.0)
    assert store.runs.get_runs(["w2"])[0].status == "FINISHED"
    with pytest.raises(ConflictError, match="param 'depth' of run w2 is already '5'"):
        store.runs.log_run(RunRecord(**{**whole.__dict__, "id": "w2", "params": {"depth": "6"},
                                        "status": "FAILED"}), [], now=5.0)
    assert store.runs.get_runs(["w2"])[0].status == "FINISHED"  # all or nothing
    with pytest.raises(InvalidInputError, match="artifacts are logged on their own"):
        store.runs.log_run(RunRecord(**{**whole.__dict__, "id": "w3",
                                        "artifacts": {"m": "d" * 64}}), [], now=5.0)
    assert store.runs.get_runs(["w3"]) == []


def test_one_batch_reads_as_its_values_written_in_order(store: Store) -> None:
    """The same (key, step) twice: the last wins; the latest value is the last one given
    at the highest step, and an older step never replaces it."""
    store.runs.create_run(run("r1"))
    store.runs.log_batch("r1", {}, [MetricValue("m", 2, 1.0)], {}, now=1.0)
    store.runs.log_batch("r1", {"p": "1"}, [
        MetricValue("m", 1, 5.0), MetricValue("m", 2, 2.0), MetricValue("m", 2, 3.0),
        MetricValue("m", 0, 9.0), MetricValue("n", 0, 1.0)], {"t": "a"}, now=2.0)
    [got] = store.runs.get_runs(["r1"])
    assert got.metrics == {"m": 3.0, "n": 1.0} and got.params == {"p": "1"}
    assert store.runs.metric_history("r1", "m") == [(0, 9.0), (1, 5.0), (2, 3.0)]
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.runs.log_batch("nope", {}, [MetricValue("m", 0, 1.0)], {"t": "a"}, now=1.0)


def test_params_are_write_once(store: Store) -> None:
    store.runs.create_run(run("r1"))
    store.runs.log_batch("r1", {"depth": "5"}, [], {}, now=1.0)
    with pytest.raises(ConflictError, match=r"param 'depth' of run r1 is already '5'"):
        store.runs.log_batch("r1", {"depth": "6", "lr": "0.1"}, [MetricValue("m", 0, 1.0)], {},
                             now=2.0)
    [got] = store.runs.get_runs(["r1"])
    assert (got.params, got.metrics) == ({"depth": "5"}, {})  # the whole batch rolled back


def test_missing_runs(store: Store) -> None:
    store.runs.create_run(run("r1"))
    assert store.runs.get_runs(["nope", "r1"]) == store.runs.get_runs(["r1"])
    with pytest.raises(NotFoundError, match=r"run 'nope' not found"):
        store.runs.delete_run("nope")
    store.runs.log_batch("r1", {"p": "1"}, [MetricValue("m", 0, 1.0)], {"t": "x"}, now=1.0)
    store.runs.delete_run("r1")
    assert store.runs.get_runs(["r1"]) == []
    assert store.runs.metric_history("r1", "m") == []


def _seed(store: Store) -> None:
    for i in range(12):
        store.runs.create_run(run(f"r{i:02d}", start=float(i), experiment="a" if i % 2 else "b"))
        metrics = [MetricValue("acc", 0, (i % 4) / 4)] if i != 11 else []  # r11: no acc, ties
        store.runs.log_batch(f"r{i:02d}", {"depth": str(i % 3)}, metrics, {}, now=1.0)


def test_search_filters_and_orders(store: Store) -> None:
    _seed(store)
    acc, depth = Term("metrics", "acc"), Term("params", "depth")
    page = store.runs.search([Condition(acc, ">=", 0.5), Condition(depth, "=", "1")],
                             [(acc, True)], None, None, None)
    assert [r.id for r in page.runs] == ["r07", "r10"]  # depth 1: r01 .25, r04 0, r07 .75, r10 .5
    assert page.next_page_token is None
    # the same shape with other values (a statement is built once per shape, values bound)
    page = store.runs.search([Condition(acc, ">=", 0.75), Condition(depth, "=", "0")],
                             [(acc, True)], None, None, None)
    assert [r.id for r in page.runs] == ["r03"]  # depth 0: r00 0, r03 .75, r06 .5, r09 .25
    page = store.runs.search([], [(Term("attributes", "start_time"), False)], "a", 3, None)
    assert [r.id for r in page.runs] == ["r01", "r03", "r05"]
    assert page.next_page_token is not None
    like = store.runs.search([Condition(Term("attributes", "name"), "ILIKE", "RUN-R0%")],
                             [(Term("attributes", "id"), False)], None, None, None)
    assert len(like.runs) == 10


def test_an_equality_filter_matches_the_whole_value_past_the_indexed_prefix(
        store: Store) -> None:
    """Params and tags are found by an index on their value's first 100 characters; values
    sharing that prefix, or longer than any index entry, still match only exactly."""
    long = "x" * 5000
    values = {"r1": long, "r2": long + "y", "r3": long[:100], "r4": "é" * 99 + "x"}
    for run_id, value in values.items():
        store.runs.log_run(dataclasses.replace(run(run_id), params={"p": value},
                                               tags={"t": value}), [], now=1.0)
    for kind, key in (("params", "p"), ("tags", "t")):
        for run_id, value in values.items():
            page = store.runs.search([Condition(Term(kind, key), "=", value)],
                                     [(Term("attributes", "id"), False)], None, None, None)
            assert [r.id for r in page.runs] == [run_id], (kind, run_id)
        page = store.runs.search([Condition(Term(kind, key), "!=", long)],
                                 [(Term("attributes", "id"), False)], None, None, None)
        assert [r.id for r in page.runs] == ["r2", "r3", "r4"]


@pytest.mark.parametrize("descending", [True, False])
def test_keyset_pages_cover_every_run_once(store: Store, descending: bool) -> None:
    _seed(store)
    acc = Term("metrics", "acc")
    everything = store.runs.search([], [(acc, descending)], None, None, None).runs
    seen, token = [], None
    while True:
        page = store.runs.search([], [(acc, descending)], None, 5, token)
        seen += [r.id for r in page.runs]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [r.id for r in everything] and len(seen) == 12
    assert seen[-1] == "r11"  # the run without the metric sorts last either way


@pytest.mark.parametrize("token", ["!!!", base64.urlsafe_b64encode(b'["x", 1]').decode(),
                                   base64.urlsafe_b64encode(b"[1e999, \"r\"]").decode(),
                                   base64.urlsafe_b64encode(b'[0.5, "a\\u0000"]').decode()])
def test_an_altered_page_token_is_refused(store: Store, token: str) -> None:
    _seed(store)
    with pytest.raises(InvalidInputError, match="invalid page token"):
        store.runs.search([], [(Term("metrics", "acc"), True)], None, 5, token)


def test_too_many_joins_are_refused(store: Store) -> None:
    terms = [(Term("metrics", f"m{i}"), True) for i in range(21)]
    with pytest.raises(InvalidInputError, match="at most 20"):
        store.runs.search([], terms, None, 5, None)


def test_concurrent_writers_lose_no_metric(store: Store) -> None:
    store.runs.create_run(run("r1"))
    threads, each = 4, 20
    start = threading.Barrier(threads)

    def log(t: int) -> None:
        start.wait()
        for i in range(each):
            step = t * each + i
            store.runs.log_batch("r1", {}, [MetricValue("loss", step, float(step))],
                                 {f"t{t}": str(i)}, now=1.0)

    workers = [threading.Thread(target=log, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    history = store.runs.metric_history("r1", "loss")
    assert history == [(s, float(s)) for s in range(threads * each)]
    [got] = store.runs.get_runs(["r1"])
    assert got.metrics == {"loss": float(threads * each - 1)}  # the highest step, whoever won
    assert got.tags == {f"t{t}": str(each - 1) for t in range(threads)}


def test_ids_by_their_start_take_the_prefix_literally(store: Store) -> None:
    for run_id in ("ab1", "ab2", "a_c", "a%d", "b1"):
        store.runs.create_run(run(run_id))
    assert store.runs.ids_starting_with("ab", 10) == ["ab1", "ab2"]
    assert store.runs.ids_starting_with("ab", 1) == ["ab1"]
    assert store.runs.ids_starting_with("a_", 10) == ["a_c"]  # not a one-character wildcard
    assert store.runs.ids_starting_with("a%", 10) == ["a%d"]
    assert store.runs.ids_starting_with("zz", 10) == []


def test_a_run_id_is_taken_once_and_logging_needs_its_run(store: Store) -> None:
    store.runs.create_run(run("r1"))
    with pytest.raises(ConflictError, match="run 'r1' already exists"):
        store.runs.create_run(run("r1", start=5.0))
    assert store.runs.get_runs(["r1"])[0].start_time == 1.0
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.runs.log_batch("nope", {"p": "1"}, [MetricValue("m", 0, 1.0)], {"t": "x"}, now=1.0)
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        store.runs.log_artifact("nope", "model", "d" * 64, 1)
    assert store.runs.metric_history("nope", "m") == []


def test_a_step_past_64_bits_is_refused(store: Store) -> None:
    store.runs.create_run(run("r1"))
    with pytest.raises(InvalidInputError):
        store.runs.log_batch("r1", {}, [MetricValue("m", 2**70, 1.0)], {}, now=1.0)
    assert store.runs.metric_history("r1", "m") == []
