"""Where prediction logs live and how they are read back: the layout writers and reports share.

Runtimes that answer traffic (``modelport serve --log-sample``) write sampled rows as
Parquet files under the artifact store, one directory per model, version and hour::

    <artifacts>/predictions/model=iris/version=2/hour=2026-12-04T22/part-<id>.parquet

A file holds ``ts`` (epoch seconds), ``request_id``, one ``in.<column>`` per input (the
signature's matrix form: numbers, or a category's code, -1 unseen, NaN missing) and
``prediction`` (a class label as text, or a number). A writer names a file ``.tmp-…``
until it is complete and renames it then, so a reader never sees half a file; anything
that still fails to read (a disk error, a file damaged later) is skipped and counted,
never fatal: a report reads up to the last complete file.
"""

from __future__ import annotations

import calendar
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError

LOGS = "predictions"
HOUR_FORMAT = "%Y-%m-%dT%H"
INPUT_PREFIX = "in."
PREFIX = "part-"
TEMP_PREFIX = ".tmp-"


def logs_root(ws: Workspace | None = None) -> Path:
    """The directory holding every prediction log of the workspace's artifact store.

    Artifacts behind a ``modelport server`` are blobs named by their digest, with no
    paths to list by model, version and hour, so there the logs stay on the machine that
    wrote them, under its ``MODELPORT_HOME`` (``log_location`` says where, for the job
    and stream records the server keeps); ``modelport monitor`` reads them there."""
    ws = current(ws)
    url = ws.settings.artifacts_url
    if url.startswith(("http://", "https://")):
        return Path(ws.settings.home) / LOGS
    if "://" in url and not url.startswith("file://"):
        raise InvalidInputError(f"prediction logs need a local artifact store for now, not "
                                f"{url} — set MODELPORT_ARTIFACTS_URL to a directory")
    return Path(url.removeprefix("file://")) / LOGS


def log_location(ws: Workspace | None = None) -> str:
    """Where this machine writes prediction logs, as ``HOST:PATH`` — what a job or stream
    record on a shared store names, so a reader elsewhere knows which machine holds them."""
    return f"{socket.gethostname()}:{logs_root(ws).resolve()}"


def hour_of(ts: float) -> str:
    return time.strftime(HOUR_FORMAT, time.gmtime(ts))


def partition(root: Path, name: str, version: int, ts: float) -> Path:
    return root / f"model={name}" / f"version={version}" / f"hour={hour_of(ts)}"


def _hour_start(directory: Path) -> float | None:
    """The epoch second an ``hour=…`` directory begins at; None for anything else."""
    _, _, text = directory.name.partition("hour=")
    try:
        return float(calendar.timegm(time.strptime(text, HOUR_FORMAT)))
    except ValueError:
        return None


def hours(root: Path, name: str, version: int) -> list[tuple[float, Path]]:
    """(start, directory) of every logged hour of one version, oldest first."""
    base = root / f"model={name}" / f"version={version}"
    found = [(start, d) for d in base.glob("hour=*") if (start := _hour_start(d)) is not None]
    return sorted(found)


@dataclass
class Window:
    """Logged rows of one version between two times, and what could not be read."""

    table: Any  # a pyarrow Table (ts, request_id, in.<column>…, prediction)
    files: int
    unreadable: int
    start: float
    end: float

    @property
    def rows(self) -> int:
        return int(self.table.num_rows) if self.table is not None else 0


def read_window(root: Path, name: str, version: int, start: float, end: float | None = None,
                first_hour_only: bool = False) -> Window:
    """Every complete file of ``name:version`` with rows in [start, end), rows filtered to it.

    ``first_hour_only``: just the earliest logged hour (a baseline for a version that has
    no training profile)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    end = time.time() + 1 if end is None else end
    chosen = [d for s, d in hours(root, name, version) if s + 3600 > start and s < end]
    if first_hour_only:
        chosen = chosen[:1]
    tables, files, unreadable = [], 0, 0
    for directory in chosen:
        for path in sorted(directory.glob(f"{PREFIX}*.parquet")):
            try:
                table = pq.read_table(path)
            except (OSError, pa.ArrowException):
                unreadable += 1
                continue
            if not _is_log(table):  # a Parquet file, but not one a writer made
                unreadable += 1
                continue
            tables.append(table)
            files += 1
    table = None
    if tables:
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowException as exc:
            raise InvalidInputError(f"the logs of {name}:{version} do not agree on their "
                                    f"columns ({exc}) — was a file put there by hand?") from None
        if not first_hour_only:
            ts = table.column("ts")
            table = table.filter(pc.and_(pc.greater_equal(ts, start), pc.less(ts, end)))
    return Window(table, files, unreadable, start, end)


def _is_log(table: Any) -> bool:
    import pyarrow as pa

    names = set(table.column_names)
    return {"ts", "request_id", "prediction"} <= names and \
        table.schema.field("ts").type == pa.float64() and \
        all(table.schema.field(n).type == pa.float64() for n in names
            if n.startswith(INPUT_PREFIX))


def remove_older(root: Path, before: float) -> int:
    """Delete every hour directory that ended before ``before``; how many went."""
    removed = 0
    for directory in root.glob("model=*/version=*/hour=*"):
        start = _hour_start(directory)
        if start is not None and start + 3600 <= before:
            shutil.rmtree(directory, ignore_errors=True)
            removed += 1
    return removed
