"""Recording sampled predictions to Parquet, off the request path.

A runtime calls ``record`` once per answered request it has a log for: that costs one
random draw and, for a sampled request, an append of references (the checked input
matrix and the prediction array, both already made) under a lock. Encoding to Arrow
and writing Parquet happen on one background thread every ``flush_s``. Memory is
bounded: past ``max_rows`` buffered rows a sampled request is dropped and counted
(``dropped``) — serving never waits for a disk.

Each flush writes one file per model, version and hour (``lifecycle/predlogs.py``
gives the layout), first under a ``.tmp-`` name, renamed once complete: a ``kill -9``
loses at most the rows not yet flushed, and never leaves a file a reader would take
for complete. With a retention (``core.logfiles.Retention``), hours older than it are removed as the
writer goes — of the labels beside the logs too.
With ``live`` (``runtimes/drift_gauges.py``), the writer also hands each written group
to it, so the drift gauges on ``/metrics`` follow the sample at no cost to requests.

With ``upload`` (a workspace behind a ``modelport server``: ``predlogs.uploads``), each
complete file is then sent to the server, on the writer thread too, and removed here once
the server kept it. A file the server could not take (unreachable, 5xx) stays and is
sent again after the next flush, oldest first — also by the next writer on this machine,
which picks up what an earlier one left; a file the server refuses (4xx) stays here,
logged — except one of a version that is gone (deleted, or replaced by a new model of
its name: ``core/incarnation.py``), which is dropped. Neither loses a row of a live
version or holds up a request: ``upload_failures`` counts them, ``unsent`` says how many
files wait, ``dropped_files`` how many went nowhere.

>>> log = PredictionLog(logs_root(ws), 0.1, writer_retention(ws, 7 * 86400))  # doctest: +SKIP
>>> log.start(); log.record("iris", 2, signature, "req-1", x, prediction)   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Container
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelport.core.incarnation import stamp
from modelport.core.logfiles import LogFiles, Retention
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError
from modelport.lifecycle.predlogs import INPUT_PREFIX, PREFIX, TEMP_PREFIX, partition
from modelport.runtimes.log_spool import Spool

if TYPE_CHECKING:
    from modelport.runtimes.drift_gauges import LiveDrift

log = logging.getLogger("modelport.predlog")

FLUSH_S = 10.0  # how often buffered rows are written
MAX_ROWS = 200_000  # rows buffered at most (per process); past it, sampled requests drop
RETENTION_CHECK_S = 300.0  # how often old hours are looked for


def check_sample(sample: float) -> float:
    if not 0.0 <= sample <= 1.0:
        raise InvalidInputError(f"--log-sample must be between 0 and 1 (a share of requests), "
                                f"got {sample:g}")
    return sample


def check_writer() -> None:
    """Logging writes Parquet with pyarrow: refused before anything listens when it is
    not installed (a ``modelport build`` image leaves it out: serving never imports it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("pyarrow") is not None
    except ImportError:
        found = False
    if not found:
        raise InvalidInputError(
            "--log-sample writes Parquet with pyarrow, which is not installed here (an image "
            "from 'modelport build' leaves it out) — install it: pip install pyarrow")


def _warm() -> None:
    """Load what writing Parquet needs (pyarrow, and the pandas it pulls in on its first
    conversion: ~0.3 s of CPU) when the writer starts, not in the first flush under load."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"ts": np.zeros(1)}), pa.BufferOutputStream())


class PredictionLog:
    """Sampled rows of served (or scored) traffic, written to Parquet by one thread.

    Thread-safe: ``record`` may be called from any thread (the event loop, batch workers);
    ``flush`` runs on the writer thread, or directly when no thread was started."""

    def __init__(self, root: Path, sample: float, retention: Retention | None = None,
                 flush_s: float = FLUSH_S, max_rows: int = MAX_ROWS,
                 live: LiveDrift | None = None, upload: LogFiles | None = None) -> None:
        self.root = root
        self.live = live
        self.spool = Spool(root, upload)
        self.sample = check_sample(sample)
        self.retention = retention
        self.flush_s = flush_s
        self.max_rows = max_rows
        self.dropped = 0  # sampled rows not logged: the buffer was full, or a write failed
        self.written = 0  # rows written to files
        self._draw = random.Random().random
        self._lock = threading.Lock()
        # (name, version, incarnation): a version deleted and registered again while
        # served is two lives, never one file
        self._pending: dict[tuple[str, int, str | None], _Buffered] = {}
        self._rows = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked_retention = 0.0

    def sampled(self) -> bool:
        """Whether to keep the request being answered: one draw. A caller that asks first
        (the serving path) calls ``keep`` only for the sampled tenth, and builds nothing
        for the rest."""
        return self._draw() < self.sample

    def record(self, name: str, version: int, signature: Signature,
               request_id: str | list[str], x: np.ndarray, prediction: Any,
               incarnation: str | None = None) -> None:
        """Maybe keep one request's rows (``x``: its checked matrix) for the next flush;
        ``request_id``: the request's, or one per row (a stream's event ids)."""
        if self._draw() < self.sample:
            self.keep(name, version, signature, request_id, x, prediction, incarnation)

    def keep(self, name: str, version: int, signature: Signature,
             request_id: str | list[str], x: np.ndarray, prediction: Any,
             incarnation: str | None = None) -> None:
        """Keep one sampled request's rows for the next flush: references appended to
        its version's lists, nothing copied or converted (the writer does that in bulk).

        ``incarnation``: the loaded version's (``ModelVersion.incarnation``), stamped into
        its files so a server takes them only while that version is the one registered
        under its number (``core/incarnation.py``); a runtime always knows it — None only
        writes a file as writers did before (the server takes it on the number alone).

        An imported graph's tensors (texts, ids) are no columns: its rows are logged with
        their prediction only — one value per row (a label, a score); an embedding is not
        logged at all."""
        rows = len(x)
        if not isinstance(x, np.ndarray):
            prediction = np.asarray(prediction)
            if prediction.size != rows:
                return
            x = np.empty((rows, 0))
        elif x.ndim != 2:
            x = x.reshape(rows, -1)
        now = time.time()
        with self._lock:
            if self._rows + rows > self.max_rows:
                self.dropped += rows
                return
            self._rows += rows
            buffered = self._pending.get((name, version, incarnation))
            if buffered is None:
                buffered = self._pending[name, version, incarnation] = _Buffered(signature)
            buffered.add(x, prediction, request_id, now, rows)

    def gauges(self, models: Container[str] | None = None) -> bytes:
        """The live drift gauges for ``/metrics`` (nothing without ``live``); with
        ``upload``, how the uploads go — for a caller who sees every model (the counts are
        the process's, not a model's)."""
        drift = b"" if self.live is None else self.live.render(models)
        if self.upload is None or models is not None:
            return drift
        pid = os.getpid()
        lines = []
        for metric, kind, help_, value in (
                ("modelport_prediction_log_unsent_files", "gauge",
                 "Prediction-log files written here that the server does not have yet.",
                 self.unsent),
                ("modelport_prediction_log_uploaded_files_total", "counter",
                 "Prediction-log files the server kept.", self.uploaded),
                ("modelport_prediction_log_upload_failures_total", "counter",
                 "Failed uploads of prediction-log files (each file is kept and sent again).",
                 self.upload_failures),
                ("modelport_prediction_log_dropped_files_total", "counter",
                 "Prediction-log files of a deleted version, dropped unsent.",
                 self.dropped_files),
                ("modelport_prediction_log_dropped_rows_total", "counter",
                 "Sampled rows not logged: the buffer was full, or a write failed.",
                 self.dropped)):
            lines += [f"# HELP {metric} {help_}", f"# TYPE {metric} {kind}",
                      f'{metric}{{pid="{pid}"}} {value}']
        return drift + ("\n".join(lines) + "\n").encode()

    def start(self) -> None:
        """Load what writing needs, then start the writer. The loading happens here, not on
        the writer thread, so a server that calls this during its start-up (before it
        freezes what start-up made out of the garbage collector's way) gets pyarrow's and
        pandas' objects frozen too, instead of walked by every collection while serving."""
        _warm()
        self._thread = threading.Thread(target=self._run, name="modelport-predlog",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the writer and write what is buffered."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            self.flush()
            try:
                self._retain()
            except OSError:
                log.exception("removing old prediction logs failed")

    def _retain(self) -> None:
        now = time.time()
        if self.retention is not None and now - self._checked_retention >= RETENTION_CHECK_S:
            self._checked_retention = now
            self.retention.prune(now)

    def flush(self) -> int:
        """Write every buffered row (one file per model, version and hour); rows written."""
        with self._lock:
            pending, self._pending, self._rows = self._pending, {}, 0
        written = 0
        for (name, version, incarnation), buffered in pending.items():
            for ts, columns in buffered.hours():
                rows = len(ts)
                try:
                    self._write(name, version, incarnation, buffered.signature, ts,
                                *columns)
                except Exception:  # a full or read-only disk: count the rows, keep serving
                    log.exception("writing %d logged rows failed", rows)
                    with self._lock:
                        self.dropped += rows
                    continue
                written += rows
        self.written += written
        self.spool.send()
        return written

    @property
    def upload(self) -> LogFiles | None:
        return self.spool.upload

    @property
    def uploaded(self) -> int:
        """Files the server kept."""
        return self.spool.uploaded

    @property
    def upload_failures(self) -> int:
        """Uploads that failed (each file is kept and sent again)."""
        return self.spool.failures

    @property
    def dropped_files(self) -> int:
        """Files of a version that is gone (deleted, or replaced by a new model of its
        name), deleted here unsent: the server would keep them nowhere."""
        return self.spool.dropped

    @property
    def unsent(self) -> int:
        """Files written here that the server does not have yet."""
        return self.spool.unsent

    def _write(self, name: str, version: int, incarnation: str | None, signature: Signature,
               ts: np.ndarray, ids: Any, x: np.ndarray, predictions: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns: dict[str, Any] = {"ts": ts, "request_id": pa.array(ids, pa.string())}
        for j, column in enumerate(signature.names):
            columns[INPUT_PREFIX + column] = x[:, j]
        classes = signature.classes is not None
        columns["prediction"] = predictions.astype(str) if classes \
            else predictions.astype(np.float64)
        directory = partition(self.root, name, version, float(ts[0]))
        directory.mkdir(parents=True, exist_ok=True)
        stem = uuid.uuid4().hex
        temp = directory / f"{TEMP_PREFIX}{stem}.parquet"
        final = directory / f"{PREFIX}{stem}.parquet"
        try:
            # inputs are measurements, nearly all distinct: a dictionary per column would
            # be built and thrown away; labels repeat, and get one
            pq.write_table(stamp(pa.table(columns), incarnation), temp,
                           use_dictionary=["prediction"] if classes else False)
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)
        self.spool.added(final)
        if self.live is not None:
            try:  # the rows are safe on disk: a gauge that fails only logs
                self.live.observe(name, version, list(signature.names), x, predictions)
            except Exception:
                log.exception("updating the drift gauges of %s:%s failed", name, version)


class _Buffered:
    """One version's sampled requests since the last flush, as the requests gave them."""

    __slots__ = ("ids", "predictions", "signature", "sizes", "times", "xs")

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        self.xs: list[np.ndarray] = []
        self.predictions: list[Any] = []
        self.ids: list[str | list[str]] = []
        self.times: list[float] = []
        self.sizes: list[int] = []

    def add(self, x: np.ndarray, prediction: Any, request_id: str | list[str], ts: float,
            rows: int) -> None:
        self.xs.append(x)
        self.predictions.append(prediction)
        self.ids.append(request_id)
        self.times.append(ts)
        self.sizes.append(rows)

    def hours(self) -> list[tuple[np.ndarray, tuple[list[str], np.ndarray, np.ndarray]]]:
        """The rows as columns — (ts, (request ids, inputs, predictions)) — split by the
        hour they were answered in: built with a few array operations, not per request."""
        sizes = np.array(self.sizes)
        one_each = len(sizes) == sizes.sum()
        ts = np.array(self.times) if one_each else np.repeat(self.times, sizes)
        x = np.vstack(self.xs).astype(np.float64, copy=False)
        predictions = np.concatenate(self.predictions, axis=None)  # each one flattened
        ids = self._row_ids(one_each)
        hours = (ts // 3600).astype(np.int64)
        if (hours == hours[0]).all():
            return [(ts, (ids, x, predictions))]
        split = []
        for hour in np.unique(hours):
            rows = np.flatnonzero(hours == hour)
            split.append((ts[rows], ([ids[i] for i in rows], x[rows], predictions[rows])))
        return split

    def _row_ids(self, one_each: bool) -> list[str]:
        if one_each and all(isinstance(i, str) for i in self.ids):
            return self.ids  # type: ignore[return-value]
        ids: list[str] = []
        for request_id, n in zip(self.ids, self.sizes, strict=True):
            ids.extend([request_id] * n if isinstance(request_id, str) else map(str, request_id))
        return ids
