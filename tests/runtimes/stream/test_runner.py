"""The stream runner against the real brokers: predictions, dead letters, groups,
delayed labels, drift, checkpoints and restarts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from streams import (
    concept_drift,
    publish_events,
    publish_labels,
    read_all,
    run_in_thread,
    wait_for,
)

from modelport.core.workspace import Workspace
from modelport.runtimes.stream import brokers
from modelport.runtimes.stream.progress import list_streams, register_checkpoint
from modelport.runtimes.stream.runner import StreamConfig, StreamRunner


def test_predictions_keep_ids_and_order_and_poison_goes_to_dead_letters(
        make_url: Callable[[str], str], online_model: str, env_ws: Workspace) -> None:
    events, preds = make_url("events"), make_url("preds")
    frame, _ = concept_drift(300, 10**9)
    poison = [b"{not json", orjson.dumps({"id": "p2", "features": {"x0": 1}}),
              orjson.dumps({"id": "p3", "features": {**frame.iloc[0].to_dict(), "x1": "high"}}),
              # a River logistic regression cannot take a missing value (it would answer
              # NaN as a made-up label)
              orjson.dumps({"id": "p4", "features": {**frame.iloc[0].to_dict(), "x2": None}})]
    publish_events(events, frame, extra=poison)
    runner = StreamRunner(online_model, StreamConfig(source=events, sink=preds, group="g"))
    stats = runner.run(max_events=304)
    got = read_all(preds, 300)
    assert [p["id"] for p in got] == [f"e{i}" for i in range(300)]
    assert {p["model"] for p in got} == {"drifty"} and {p["version"] for p in got} == {1}
    assert all(p["redelivered"] is False and len(p["probabilities"]) == 2 for p in got)
    dead = read_all(brokers.dead_letter_url(events), 4)
    assert len(dead) == 4 and stats.dead_letters == 4
    reasons = " | ".join(d["reason"] for d in dead)
    assert "not JSON" in reasons and "missing column" in reasons and "'x1'" in reasons
    assert "column 'x2' has a missing value" in reasons
    # the consumer went on: everything is acknowledged (JetStream acks land asynchronously)
    [record] = list_streams("g", ws=env_ws)
    assert record.stats["events"] == 304
    with brokers.open_source(events, "g", "checker") as source:
        wait_for(lambda: source.info().pending == 0, timeout=5)


def test_two_consumers_of_one_group_split_the_work(make_url: Callable[[str], str],
                                                   online_model: str) -> None:
    events, preds = make_url("events"), make_url("preds")
    first = StreamRunner(online_model, StreamConfig(source=events, sink=preds, group="g",
                                                     consumer="a", batch_size=20))
    second = StreamRunner(online_model, StreamConfig(source=events, sink=preds, group="g",
                                                      consumer="b", batch_size=20))
    threads = [run_in_thread(first), run_in_thread(second)]
    frame, _ = concept_drift(2000, 10**9)
    publish_events(events, frame)
    got = read_all(preds, 2000)
    for thread, stop in threads:
        stop.set()
        thread.join(10)
    assert sorted(p["id"] for p in got) == sorted(f"e{i}" for i in range(2000))
    assert first.stats.predictions > 0 and second.stats.predictions > 0
    assert first.stats.predictions + second.stats.predictions == 2000


def test_delayed_labels_teach_the_model_and_drift_is_seen_near_the_change(
        make_url: Callable[[str], str], online_model: str, env_ws: Workspace) -> None:
    """A concept flips at event 3000; labels arrive 100 events late. The learning
    consumer recovers, a frozen twin of the same model does not, and ADWIN on the
    error notices the flip soon after it happens."""
    n, change, delay = 6000, 3000, 100
    frame, y = concept_drift(n, change, seed=2)
    learning = {k: make_url(f"l{k}") for k in ("events", "preds", "labels")}
    frozen = {k: make_url(f"f{k}") for k in ("events", "preds")}
    learner = StreamRunner(online_model, StreamConfig(
        source=learning["events"], sink=learning["preds"], labels=learning["labels"],
        learn=True, group="learn", batch_size=50, checkpoint_seconds=0.5))
    static = StreamRunner(online_model, StreamConfig(source=frozen["events"],
                                                     sink=frozen["preds"], group="static"))
    threads = [run_in_thread(learner), run_in_thread(static)]
    publish_events(frozen["events"], frame)
    for start in range(0, n, 500):  # labels trail their events
        publish_events(learning["events"], frame.iloc[start:start + 500], start=start)
        wait_for(lambda s=start: learner.stats.predictions >= min(s + 500, n) - delay)
        publish_labels(learning["labels"], y[max(0, start - delay):start + 500 - delay],
                       start=max(0, start - delay))
    publish_labels(learning["labels"], y[n - delay:], start=n - delay)
    wait_for(lambda: learner.stats.learnt >= n and static.stats.predictions >= n, timeout=60)
    for thread, stop in threads:
        stop.set()
        thread.join(10)

    def accuracy_after_change(url: str) -> float:
        got = {p["id"]: p["prediction"] for p in read_all(url, n)}
        return float(np.mean([got[f"e{i}"] == y[i] for i in range(change + 500, n)]))

    assert accuracy_after_change(learning["preds"]) > 0.7
    assert accuracy_after_change(frozen["preds"]) < 0.2
    drift = learner.stats.drift
    assert any(change < at < change + 600 for at in drift["error_at"]), drift
    assert learner.stats.join == {"matched": n, "late": 0, "unmatched": 0, "duplicate": 0}
    [record] = list_streams("learn", ws=env_ws)
    assert record.checkpoint and record.checkpoint["labels"] == n
    assert record.stats["metrics"]["online_accuracy"] > 0.7
    version = register_checkpoint("learn", ws=env_ws)
    assert version.ref == "drifty:2" and version.tags["learnt_from"] == "drifty:1"


def test_mqtt_telemetry_in_predictions_out(online_model: str, mqtt_server: str) -> None:
    tag = str(time.monotonic_ns())[-9:]
    events = f"{mqtt_server}/mp-test/{tag}/telemetry?session_expiry=5"
    preds = f"{mqtt_server}/mp-test/{tag}/predictions"
    frame, _ = concept_drift(200, 10**9)
    with brokers.open_source(preds + "?session_expiry=5", "reader", "r1") as reader:
        runner = StreamRunner(online_model, StreamConfig(source=events, sink=preds, group="dev"))
        thread, stop = run_in_thread(runner)
        wait_for(lambda: hasattr(runner, "_source"))
        publish_events(events, frame)
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + 20
        while len(got) < 200 and time.monotonic() < deadline:
            batch = reader.read(500, 0.2)
            got += [orjson.loads(m.data) for m in batch]
            reader.ack(batch)
        stop.set()
        thread.join(10)
    assert sorted(p["id"] for p in got) == sorted(f"e{i}" for i in range(200))


@pytest.mark.parametrize("make_url, backend", [("redis", "sqlite")], indirect=True)
def test_labels_without_learning_watch_a_batch_model_and_drift_starts_a_retrain(
        make_url: Callable[[str], str], env_ws: Workspace, tmp_path: Path) -> None:
    """Any model can be watched: labels score it and its error feeds the drift
    detector; on drift, `modelport retrain` re-runs its recorded recipe."""
    from modelport.lifecycle.registry import list_versions
    from modelport.lifecycle.tune import tune

    frame, y = concept_drift(3000, 1000, seed=4)
    tune(frame.iloc[:1000].assign(y=y[:1000]), "y", "logistic_regression", trials=2, cv=2,
         name="watched", promote=True, ws=env_ws)
    fresh = tmp_path / "fresh.csv"
    frame.iloc[1000:].assign(y=y[1000:]).to_csv(fresh, index=False)
    events, preds, labels = make_url("events"), make_url("preds"), make_url("labels")
    runner = StreamRunner("watched", StreamConfig(
        source=events, sink=preds, labels=labels, group="w", batch_size=100,
        on_drift="retrain", retrain_data=str(fresh)))
    thread, stop = run_in_thread(runner)
    publish_events(events, frame)
    publish_labels(labels, y)
    wait_for(lambda: runner.stats.retrains >= 1, timeout=30)
    wait_for(lambda: len(list_versions("watched", ws=env_ws)) >= 2 and runner._retrain is None,
             timeout=120)
    stop.set()
    thread.join(10)
    assert runner.stats.learnt == 0  # watched, not taught
    assert runner.stats.drift["error_at"][0] > 1000
    new = max(list_versions("watched", ws=env_ws), key=lambda v: v.version)
    assert "retrained_from" in new.tags


def test_a_broker_that_cannot_be_opened_fails_the_run(online_model: str,
                                                      env_ws: Workspace) -> None:
    from modelport.errors import BrokerError
    from modelport.lifecycle.search import search_runs

    runner = StreamRunner(online_model, StreamConfig(
        source="redis://127.0.0.1:1/0?stream=nowhere", sink="redis://127.0.0.1:1/0?stream=x",
        group="g", name="unreachable"))
    with pytest.raises(BrokerError):
        runner.run(max_events=1)
    runs = search_runs(experiment="stream", ws=env_ws).runs
    assert [r.status for r in runs if r.name == "stream-unreachable-" + runner.config.consumer
            ] == ["FAILED"]
    assert [s.state for s in list_streams("unreachable", ws=env_ws)] == ["failed"]
