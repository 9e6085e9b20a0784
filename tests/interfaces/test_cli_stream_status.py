"""``stream status`` says which counters restart with the consumer and which are totals."""

from __future__ import annotations

from cli_runner import cli
from modelport.core.workspace import Workspace
from modelport.runtimes.stream import progress


def test_status_marks_counters_since_start_and_in_total(env_ws: Workspace) -> None:
    progress.start("clicks", "c1", "ctr:1", {}, ws=env_ws)
    progress.heartbeat("clicks", "c1", {"events": 120, "learnt": 5000, "lag": 3, "pending": 1,
                                        "events_per_second": 40.0,
                                        "metrics": {"online_accuracy": 0.9}}, ws=env_ws)
    out = cli("stream", "status", columns=250)
    header = next(line for line in out.splitlines() if "stream" in line and "events" in line)
    for column in ("started", "events ¹", "learnt ²", "score ¹", "drifts ¹", "checkpoint ²"):
        assert column in header, header
    row = next(line for line in out.splitlines() if "clicks" in line)
    assert "120" in row and "5000" in row and "0s ago" in row
    assert ("¹ since the consumer started · ² in total: kept across restarts by the checkpoint "
            "· events/s, lag and pending: now") in out
