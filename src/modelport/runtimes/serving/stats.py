"""Live statistics of endpoint versions, shared through the store.

Each worker counts, per endpoint version and per one-second window, requests
the version answered, its failures (5xx), the client's mistakes (4xx, apart:
they say nothing about the version), a latency histogram, the predicted
classes (or a value summary), what its shadow did and the labels fed back —
in memory on the request path — and
once a second writes its own rows (no two workers share a row, so a write
never needs to read). The rollout analysis sums the rows since a step began.
Rows also say which versions a worker holds loaded: the controller's proof
that an idle slot is warm.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import uuid
from collections import defaultdict
from typing import Any

import numpy as np

from modelport.core.store.stats import StatsRow
from modelport.core.workspace import Workspace

log = logging.getLogger("modelport.stats")

WINDOW_S = 1.0
KEEP_S = 3600.0
WRITE_ATTEMPTS = 3  # a window the store refuses this many times in a row is dropped
# latency buckets: 0.1 ms × 1.25^i up to ~20 s; p99 is read off the first bucket past 99 %
LATENCY_BOUNDS = [1e-4 * 1.25**i for i in range(56)]


def _window_now() -> float:
    return math.floor(time.time() / WINDOW_S) * WINDOW_S


def _buckets(seconds: Any) -> np.ndarray:
    """The latency bucket of each duration, all at once."""
    s = np.asarray(seconds, dtype=np.float64)
    out = np.zeros(s.shape, dtype=np.int64)
    above = s > LATENCY_BOUNDS[0]
    out[above] = np.minimum((np.log(s[above] / 1e-4) / math.log(1.25)).astype(np.int64) + 1,
                            len(LATENCY_BOUNDS) - 1)
    return out


def _count(histogram: dict[str, int], buckets: np.ndarray) -> None:
    for bucket, n in zip(*np.unique(buckets, return_counts=True), strict=True):
        histogram[str(bucket)] = histogram.get(str(bucket), 0) + int(n)


def empty() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "client_errors": 0, "latency": {}, "classes": {},
            "value_n": 0, "value_sum": 0.0, "value_sumsq": 0.0, "shadow_requests": 0,
            "shadow_errors": 0, "shadow_rows": 0, "shadow_agree": 0, "shadow_latency": {},
            "feedback": 0, "correct": 0, "unverified_feedback": 0, "unverified_correct": 0,
            "loaded": False}


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    for key, value in other.items():
        if isinstance(value, dict):
            target = into.setdefault(key, {})
            for k, v in value.items():
                target[k] = target.get(k, 0) + v
        elif isinstance(value, bool):
            into[key] = into.get(key, False) or value
        else:
            into[key] = into.get(key, 0) + value
    return into


def _observe_prediction(data: dict[str, Any], prediction: np.ndarray) -> None:
    if prediction.dtype.kind in "iubOSU":
        labels = prediction if prediction.dtype.kind in "iub" else prediction.astype(str)
        for label, count in zip(*np.unique(labels, return_counts=True), strict=True):
            key = str(label)
            data["classes"][key] = data["classes"].get(key, 0) + int(count)
    else:
        values = prediction.astype(np.float64)
        data["value_n"] += int(values.size)
        data["value_sum"] += float(values.sum())
        data["value_sumsq"] += float((values**2).sum())


class StatsRecorder:
    """One worker's counters; ``flush`` writes them to the store.

    A request is only noted on its way (``request``: one list append); the notes are
    counted into their windows when the counters are written — counting each on the
    request path cost 3 µs, 15 % of a small model's endpoint request.

    A write the store refuses keeps its windows for the next one; after
    ``WRITE_ATTEMPTS`` refusals in a row the closed windows are dropped (logged), so
    one bad row or a long outage never blocks the writes after it nor grows memory."""

    def __init__(self) -> None:
        self.worker = uuid.uuid4().hex
        self._windows: dict[float, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
        self._noted: dict[tuple[float, str, str], list[tuple[float, int, Any]]] = {}
        self.loaded: dict[str, set[str]] = {}  # endpoint -> versions held loaded
        self._written_before = 0.0  # windows before this are in the store: forget them
        self._refused = 0  # writes refused in a row

    def _data(self, endpoint: str, version: str, window: float | None = None
              ) -> dict[str, Any]:
        slot = self._windows[_window_now() if window is None else window]
        data = slot.get((endpoint, version))
        if data is None:
            data = slot[(endpoint, version)] = empty()
        return data

    def request(self, endpoint: str, version: str, seconds: float, status: int,
                prediction: np.ndarray | None) -> None:
        """Note one request and the HTTP status it got (200, a 4xx, a 5xx)."""
        key = (_window_now(), endpoint, version)
        noted = self._noted.get(key)
        if noted is None:
            noted = self._noted[key] = []
        noted.append((seconds, status, prediction))

    def _count_noted(self) -> None:
        noted, self._noted = self._noted, {}
        for (window, endpoint, version), items in noted.items():
            data = self._data(endpoint, version, window)
            # a client's mistake is neither a request the version answered nor its error,
            # nor its latency: aimed at a canary, it must not abort (or dilute) it
            answered = [item for item in items if not 400 <= item[1] < 500]
            data["client_errors"] += len(items) - len(answered)
            data["requests"] += len(answered)
            data["errors"] += sum(1 for _, status, _ in answered if status >= 500)
            _count(data["latency"], _buckets([seconds for seconds, _, _ in answered]))
            predictions = [np.ravel(p) for _, _, p in answered if p is not None]
            if predictions:
                _observe_prediction(data, np.concatenate(predictions))

    def shadow(self, endpoint: str, version: str, seconds: float, ok: bool, rows: int,
               agree: int) -> None:
        data = self._data(endpoint, version)
        data["shadow_requests"] += 1
        data["shadow_errors"] += 0 if ok else 1
        data["shadow_rows"] += rows
        data["shadow_agree"] += agree
        _count(data["shadow_latency"], _buckets([seconds]))

    def feedback(self, endpoint: str, version: str, n: int, correct: int,
                 verified: bool = True) -> None:
        """Labels for ``n`` predictions; unverified ones are kept apart from the analysis."""
        data = self._data(endpoint, version)
        prefix = "" if verified else "unverified_"
        data[f"{prefix}feedback"] += n
        data[f"{prefix}correct"] += correct

    def flush(self, ws: Workspace) -> None:
        """Write every window seen since the last flush; forget the closed ones."""
        self.write(self.snapshot(), ws)

    def snapshot(self) -> tuple[float, list[StatsRow]]:
        """The rows to write, copied — taken on the thread that records, so ``write`` can
        run on another while requests go on being counted."""
        self._count_noted()
        now_window = _window_now()
        for endpoint, versions in self.loaded.items():  # the heartbeat: what is loaded here
            for version in versions:
                self._data(endpoint, version)["loaded"] = True
        for window in [w for w in self._windows if w < self._written_before]:
            del self._windows[window]
        rows = [StatsRow(endpoint=e, version=v, worker=self.worker, window=w,
                         data=copy.deepcopy(d))
                for w, slot in self._windows.items() for (e, v), d in slot.items()]
        return now_window, rows

    def write(self, snapshot: tuple[float, list[StatsRow]], ws: Workspace) -> None:
        now_window, rows = snapshot
        try:
            if rows:
                ws.store.stats.write_windows(rows, self.worker, now_window - KEEP_S)
        except Exception:
            self._refused += 1
            if self._refused < WRITE_ATTEMPTS:
                raise  # kept: the next write carries these windows again
            log.warning("the store refused %d statistics writes in a row; dropping the "
                        "windows before %.0f", self._refused, now_window)
            self._refused = 0
        else:
            self._refused = 0
        # the closed windows are stored (or given up): the next snapshot, on the
        # recording thread, forgets them
        self._written_before = now_window


def read_stats(endpoint: str, since: float, ws: Workspace) -> dict[str, dict[str, Any]]:
    """Per version: the sum of every worker's windows that began at or after ``since``."""
    start = math.floor(since / WINDOW_S) * WINDOW_S
    out: dict[str, dict[str, Any]] = {}
    for row in ws.store.stats.read_windows(endpoint, start):
        merge(out.setdefault(row["version"], empty()), row["data"])
    return out


def loaded_by(endpoint: str, version: str, within_s: float, ws: Workspace) -> tuple[int, int]:
    """(workers holding ``version`` loaded, workers alive) over the last ``within_s``."""
    start = math.floor((time.time() - within_s) / WINDOW_S) * WINDOW_S
    alive: set[str] = set()
    holding: set[str] = set()
    for row in ws.store.stats.read_windows(endpoint, start):
        if row["data"].get("loaded"):
            alive.add(row["worker"])
            if row["version"] == version:
                holding.add(row["worker"])
    return len(holding), len(alive)

