"""Endpoint statistics: what a client's mistakes count for, and writes the store refuses."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.runtimes.serving.stats import WRITE_ATTEMPTS, StatsRecorder, read_stats


@pytest.mark.storage_independent
def test_client_errors_are_counted_apart(ws: Workspace) -> None:
    rec = StatsRecorder()
    for status in (200, 200, 500, 422, 400, 404):
        rec.request("ep", "m:1", 0.001, status, np.array([1]) if status == 200 else None)
    rec.flush(ws)
    stats = read_stats("ep", time.time() - 5, ws)["m:1"]
    assert (stats["requests"], stats["errors"], stats["client_errors"]) == (3, 1, 3)
    assert sum(stats["latency"].values()) == 3  # a 4xx's latency is not the version's
    assert stats["classes"] == {"1": 2}


def test_a_refused_write_is_retried_then_dropped(tmp_path: Path, pg_schema: str,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL refuses a version over its 220-character column: the window is kept for
    a few writes, then dropped, and the writes after it go through."""
    ws = Workspace.open(Settings(home=tmp_path / "home", db_url=pg_schema))
    try:
        rec = StatsRecorder()
        rec.feedback("ep", "v" * 300, 1, 1)
        rec.request("ep", "m:1", 0.001, 200, None)
        for _ in range(WRITE_ATTEMPTS - 1):
            with pytest.raises(Exception, match="too long"):
                rec.write(rec.snapshot(), ws)
        with caplog.at_level(logging.WARNING, logger="modelport.stats"):
            time.sleep(1.0)  # the refused window is closed now
            rec.write(rec.snapshot(), ws)  # given up: logged, not raised
        assert "dropping the windows" in caplog.text
        rec.request("ep", "m:1", 0.001, 200, None)
        rec.write(rec.snapshot(), ws)
        stats = read_stats("ep", 0, ws)
        assert set(stats) == {"m:1"} and stats["m:1"]["requests"] >= 1
    finally:
        forget_stores()
