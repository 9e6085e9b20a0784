"""Labels that come back late, kept beside the prediction logs and joined to them by request id.

A label often arrives hours or days after its prediction (a loan defaults, a fraud is
confirmed), through a stream the serving process does not read. ``modelport monitor
TARGET --labels URL`` drains such a stream (``runtimes/label_stream.py``) into Parquet
files of (``request_id``, ``label``, ``ts``) for each version TARGET names, laid out as
the prediction logs are (``core/logfiles.py``)::

    <artifacts>/labels/model=iris/version=2/hour=2026-12-05T10/part-<32 hex>.parquet

A report joins a version's labels to its logged predictions of the window by request
id, so the accuracy of a version is measured on its own logged traffic, whenever the
labels came. Behind a ``modelport server`` they go where the logs go: written whole
under this machine's ``MODELPORT_HOME/labels``, uploaded, read back from anywhere
(``label_files``) within the model's project.

A label names one request: a request that logged several rows (a batch) cannot be
scored by one label and is counted as ``ambiguous``. A request labelled twice (a
redelivered message) counts once, with the label that came first. Files are written
under a temporary name and renamed when whole, and a file that cannot be read is
skipped and counted, as for the prediction logs.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.incarnation import foreign, stamp
from modelport.core.logfiles import LABELS, Aging, LocalLogFiles, LogFiles, Retention, since_of
from modelport.core.workspace import Workspace
from modelport.lifecycle.predlogs import (
    PREFIX,
    TEMP_PREFIX,
    Window,
    log_files,
    logs_root,
    partition,
    uploads,
)


def labels_root(ws: Workspace | None = None) -> Path:
    """The directory this machine writes labels to (beside its ``logs_root``)."""
    return logs_root(ws).parent / LABELS


def writer_retention(ws: Workspace | None = None,
                     seconds: float | None = None) -> Retention | None:
    """A writer's ``--log-retention``: its prediction logs and the labels beside them lose
    their hours older than ``seconds`` together (None: kept forever) — on this machine,
    and in the object store they are uploaded to, which nothing else prunes (a server
    prunes its own: ``modelport server --log-retention``)."""
    if seconds is None:
        return None
    kinds: list[Aging] = [LocalLogFiles(logs_root(ws)), LocalLogFiles(labels_root(ws))]
    for kept in (uploads(ws), uploads(ws, LABELS)):
        if isinstance(kept, Aging):  # a server's are not a writer's to prune
            kinds.append(kept)
    return Retention(kinds, seconds)


def label_files(ws: Workspace | None = None) -> LogFiles:
    """Where reports read the labels: the artifact store's ``labels/``, or the server."""
    return log_files(ws, LABELS)


def label_uploads(ws: Workspace | None = None) -> LogFiles | None:
    """Where a drain sends each complete file: the server, or None (already in place)."""
    return uploads(ws, LABELS)


def label_text(value: Any) -> str:
    """A label as the logs keep a class prediction: text; a whole float as its integer."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def write_labels(root: Path, model: str, version: int, request_ids: list[str],
                 labels: list[Any], ts: float | None = None, incarnation: str | None = None
                 ) -> Path:
    """One whole file of ``model:version``'s labels (temp name, renamed once complete); its
    path. Its name starts with the nanosecond it was written at, so an hour's files sort
    as they came (the first label of a request wins, wherever they are read).
    ``incarnation``: the version's life, stamped in (``core/incarnation.py``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = time.time() if ts is None else ts
    directory = partition(root, model, version, ts)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"
    temp, final = directory / f"{TEMP_PREFIX}{stem}.parquet", directory / f"{PREFIX}{stem}.parquet"
    table = pa.table({"request_id": pa.array(request_ids, pa.string()),
                      "label": pa.array([label_text(v) for v in labels], pa.string()),
                      "ts": pa.array([ts] * len(request_ids), pa.float64())})
    try:
        pq.write_table(stamp(table, incarnation), temp)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return final


@dataclass
class Labels:
    by_request: dict[str, str]  # the first label of each request id
    unreadable: int  # files skipped


CLOCK_SLACK_S = 3600.0  # machines' clocks may differ: a label's hour may look earlier


def read_labels(source: Path | LogFiles, model: str, version: int,
                since: float = 0.0, incarnation: str | None = None) -> Labels:
    """Every complete label file of ``model:version`` (``source``: a directory, or any
    ``LogFiles`` — a server's), oldest first; ``since``: only those that can label a
    prediction made at or after it — the labels a window from ``since`` joins.
    ``incarnation``: the version's — a file stamped for another life of ``model:version``
    (a deleted model's) is skipped.

    Which hours those are: a label comes after its prediction, so none of a prediction
    made at or after ``since`` is in an hour that ended before it — less
    ``CLOCK_SLACK_S``, as the machine that drained the label may run behind the one that
    stamped the prediction. Those hours are not listed, nor downloaded. But a label may
    come any time later (a loan defaults months after), past the window's end: so the
    listing has no end, and a report of an old window still finds the labels that came
    since. The first label of each of the window's requests is in what is read, so the
    one that wins is the same as over the whole history; labels of older predictions
    read along match no request of the window and count for nothing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modelport.errors import ArtifactIntegrityError

    files = LocalLogFiles(source) if isinstance(source, Path) else source
    by_request: dict[str, str] = {}
    unreadable = 0
    for file in files.list(model, version, since_of(since - CLOCK_SLACK_S)):
        try:
            table = pq.read_table(files.open(model, version, file),
                                  columns=["request_id", "label"])
        except (OSError, pa.ArrowException, KeyError, ArtifactIntegrityError):
            unreadable += 1
            continue
        if foreign(table, incarnation):
            continue
        for request_id, label in zip(table.column("request_id").to_pylist(),
                                     table.column("label").to_pylist(), strict=True):
            if request_id is not None and label is not None:
                by_request.setdefault(request_id, label)
    return Labels(by_request, unreadable)


@dataclass
class Joined:
    labels: int  # logged requests with a label
    correct: int  # of which the prediction equalled the label
    ambiguous: int  # labelled requests that logged more than one row

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def join(window: Window, labels: Labels) -> Joined:
    """The window's logged single-row requests that have a label, and how many were right."""
    from collections import Counter

    table = window.table
    if table is None or not labels.by_request:
        return Joined(0, 0, 0)
    ids = table.column("request_id").to_pylist()
    predictions = table.column("prediction").to_pylist()
    rows = Counter(ids)
    n = correct = ambiguous = 0
    for request_id, prediction in zip(ids, predictions, strict=True):
        label = labels.by_request.get(request_id)
        if label is None:
            continue
        if rows[request_id] > 1:
            ambiguous += 1
            rows[request_id] = 0  # counted once
            continue
        if rows[request_id] == 1:
            n += 1
            correct += label_text(prediction) == label
    return Joined(n, correct, ambiguous)
