"""``monitor`` lists only the hours its window needs — the predictions' from the window's
start, the labels' from an hour (clocks differ) before it — and reports exactly what it
reported when it listed a version's whole history: the same rows, the same files, the
same labels joined (late ones, early-clocked ones), the same drift."""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from hourly_logs import log_file, opened
from modelport.config import Settings
from modelport.core.logfiles import LABELS, LOGS, LogFile, LogFiles
from modelport.core.workspace import Workspace
from modelport.lifecycle import monitoring
from modelport.lifecycle.labels import labels_root, write_labels
from modelport.lifecycle.predlogs import hour_of, log_files
from modelport.lifecycle.registry import register_model

pytestmark = pytest.mark.storage_independent
X, Y = load_iris(return_X_y=True, as_frame=True)
END = float(calendar.timegm((2026, 12, 6, 10, 20, 0)))  # the monitor's "now"
SPAN_S = 6 * 3600  # --since 6h: from 04:20
DAYS = 5
# when a label comes after its prediction: late, much later (past the monitor's "now"), or
# from a clock 50 minutes behind — an hour before its prediction's, for 04:31's
DELAYS = (1800.0, 9 * 3600.0, -3000.0)


class Whole:
    """A version's log listed whole, whatever ``since`` says: what every listing was
    before ``since`` existed."""

    def __init__(self, files: LogFiles) -> None:
        self.files = files

    def list(self, model: str, version: int, since: float | None = None) -> list[LogFile]:
        return self.files.list(model, version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.files, name)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """``iris:1`` with ``DAYS`` of hourly traffic up to ``END`` (and an hour past it), its
    requests labelled with each of ``DELAYS`` in turn."""
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    model = LogisticRegression(max_iter=500).fit(X, Y)
    register_model("iris", model, X=X, ws=ws)
    rng = np.random.default_rng(3)
    kept = log_files(ws)
    for hour in range(-DAYS * 24, 2):
        start = END - END % 3600 + hour * 3600
        rows = rng.integers(0, len(X), 4)
        ts = [start + 300.0 + 800 * i for i in range(4)]
        ids = [f"{hour}-{i}" for i in range(4)]
        frame = X.iloc[rows]
        predicted = [str(p) for p in model.predict(frame)]
        kept.put("iris", 1, log_file(tmp_path / "staging", "iris", 1, ts, ids,
                                     {c: frame[c].tolist() for c in X.columns}, predicted))
        for i, (moment, rid) in enumerate(zip(ts, ids, strict=True)):
            truth = predicted[i] if i % 3 else str(Y.iloc[rows[i]])
            write_labels(labels_root(ws), "iris", 1, [rid], [truth],
                         ts=moment + DELAYS[(hour + i) % len(DELAYS)])
    return ws


def _report(ws: Workspace) -> list[dict[str, Any]]:
    return monitoring.monitor("iris", since_s=SPAN_S, now=END, ws=ws)


def test_the_report_is_the_one_the_whole_history_gave(ws: Workspace,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _report(ws)
    with monkeypatch.context() as patched:
        patched.setattr(monitoring, "log_files", lambda ws, kind=LOGS: Whole(log_files(ws)))
        patched.setattr(monitoring, "label_files",
                        lambda ws: Whole(log_files(ws, LABELS)))
        before = _report(ws)
    assert ours == before
    [report] = ours
    assert report["volume"]["rows"] == 6 * 4  # 04:25 … 10:05: the rows of 6 hours
    assert report["window"]["files"] == 7  # hours 04 … 10
    accuracy = report["accuracy"]
    assert accuracy["source"] == "labels joined by request id"
    assert accuracy["labels"] == 6 * 4  # every request of the window, its label early or late


def test_old_hours_are_never_opened(ws: Workspace) -> None:
    with opened() as listed:
        _report(ws)
    hours = {(Path(d).parts[-4], Path(d).name.removeprefix("hour="))
             for d in listed if Path(d).name.startswith("hour=")}
    first = {"predictions": hour_of(END - SPAN_S), "labels": hour_of(END - SPAN_S - 3600)}
    assert hours and all(hour >= first[kind] for kind, hour in hours), sorted(hours)
    assert ("labels", first["labels"]) in hours  # a label may come before its prediction
