"""A stream logs its sampled events (inputs, predictions, event ids) for `modelport monitor`."""

from __future__ import annotations

from collections.abc import Callable

from streams import concept_drift, publish_events, read_all

from modelport.core.workspace import Workspace
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import logs_root, read_window
from modelport.runtimes.stream.runner import StreamConfig, StreamRunner


def test_a_stream_logs_events_and_the_report_reads_them(make_url: Callable[[str], str],
                                                        online_model: str,
                                                        env_ws: Workspace) -> None:
    events, preds = make_url("events"), make_url("preds")
    frame, _ = concept_drift(600, 10**9, seed=2)
    publish_events(events, frame)
    config = StreamConfig(source=events, sink=preds, group="g", batch_size=100, log_sample=1.0)
    StreamRunner(online_model, config).run(max_events=600)
    assert len(read_all(preds, 600)) == 600
    window = read_window(logs_root(env_ws), "drifty", 1, 0)
    assert window.rows == 600
    assert sorted(window.table.column("request_id").to_pylist()) == \
        sorted(f"e{i}" for i in range(600))
    # an online model is registered without a training profile: the first logged hour is
    # its baseline, so this window (all in that hour) shows no drift against itself
    [report] = monitor("drifty", since_s=3600, ws=env_ws)
    assert report["baseline"]["source"].startswith("first logged hour")
    assert report["status"] == "ok" and report["volume"]["rows"] == 600
