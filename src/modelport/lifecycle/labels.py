"""Labels that come back late, kept beside the prediction logs and joined to them by request id.

A label often arrives hours or days after its prediction (a loan defaults, a fraud is
confirmed), through a stream the serving process does not read. ``modelport monitor
--labels URL`` drains such a stream (``runtimes/label_stream.py``) into Parquet files
of (``request_id``, ``label``, ``ts``) under ``<artifacts>/labels/hour=…/``; a report
joins them to the logged predictions of its window by request id, so the accuracy
of a version is measured on its own logged traffic, whenever the labels came.

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

from modelport.core.workspace import Workspace
from modelport.lifecycle.predlogs import PREFIX, TEMP_PREFIX, Window, hour_of, logs_root

LABELS = "labels"


def labels_root(ws: Workspace | None = None) -> Path:
    return logs_root(ws).parent / LABELS


def label_text(value: Any) -> str:
    """A label as the logs keep a class prediction: text; a whole float as its integer."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def write_labels(root: Path, request_ids: list[str], labels: list[Any],
                 ts: float | None = None) -> Path:
    """One whole file of labels (temp name, renamed once complete); its path."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ts = time.time() if ts is None else ts
    directory = root / f"hour={hour_of(ts)}"
    directory.mkdir(parents=True, exist_ok=True)
    stem = uuid.uuid4().hex
    temp, final = directory / f"{TEMP_PREFIX}{stem}.parquet", directory / f"{PREFIX}{stem}.parquet"
    table = pa.table({"request_id": pa.array(request_ids, pa.string()),
                      "label": pa.array([label_text(v) for v in labels], pa.string()),
                      "ts": pa.array([ts] * len(request_ids), pa.float64())})
    try:
        pq.write_table(table, temp)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)
    return final


@dataclass
class Labels:
    by_request: dict[str, str]  # the first label of each request id
    unreadable: int  # files skipped


def read_labels(root: Path) -> Labels:
    """Every complete label file under ``root``, oldest first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    by_request: dict[str, str] = {}
    unreadable = 0
    for path in sorted(root.glob(f"hour=*/{PREFIX}*.parquet"),
                       key=lambda p: (p.parent.name, p.stat().st_mtime)):
        try:
            table = pq.read_table(path, columns=["request_id", "label"])
        except (OSError, pa.ArrowException, KeyError):
            unreadable += 1
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
