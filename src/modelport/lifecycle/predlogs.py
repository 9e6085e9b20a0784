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

Behind a ``modelport server`` the server keeps them (and with an object store as the
artifact store, the store does): a writer spools each file under its own
``MODELPORT_HOME/predictions`` and uploads it once complete (``uploads``), and readers
anywhere list and read them through the server (``log_files``: ``core/logfiles.py``'s
``LogFiles``, local or REST — the reader here never knows which).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.incarnation import foreign
from modelport.core.log_orphans import Orphans, orphans
from modelport.core.log_stores import kept_here, open_log_files
from modelport.core.logfiles import (
    HOUR_FORMAT,
    LOGS,
    PREFIX,
    TEMP_PREFIX,
    LocalLogFiles,
    LogFiles,
    hour_dir,
    is_directory,
    since_of,
)
from modelport.core.workspace import Workspace, current
from modelport.errors import ArtifactIntegrityError, InvalidInputError

__all__ = ["HOUR_FORMAT", "INPUT_PREFIX", "LOGS", "PREFIX", "TEMP_PREFIX", "Window",
           "hour_of", "log_files", "log_location", "logs_root", "prune_orphans", "read_window",
           "uploads"]

INPUT_PREFIX = "in."


def _spooled(ws: Workspace) -> bool:
    """Whether this machine's writers spool and upload: the logs are kept elsewhere (a
    server, an object store)."""
    return not is_directory(ws.settings.artifacts_url)


def logs_root(ws: Workspace | None = None) -> Path:
    """The directory this machine writes prediction logs to.

    With a local artifact store, its ``predictions/`` — where readers find them too.
    Behind a ``modelport server`` (artifacts are blobs by digest there), or with an
    object store (``s3://…``), a spool under this machine's ``MODELPORT_HOME``: each
    complete file is uploaded (``uploads``) and removed here once it is kept there, so
    what stays is what the server or the store does not have yet."""
    ws = current(ws)
    if _spooled(ws):
        return Path(ws.settings.home) / LOGS
    files = open_log_files(ws.settings.artifacts_url)
    assert isinstance(files, LocalLogFiles)
    return files.root


def log_files(ws: Workspace | None = None, kind: str = LOGS) -> LogFiles:
    """Where readers (``monitor``) find the workspace's prediction logs (``kind``: or its
    delayed labels, ``LABELS``): its directory, its server, or its object store."""
    ws = current(ws)
    return open_log_files(ws.settings.artifacts_url, ws.artifacts, kind)


def uploads(ws: Workspace | None = None, kind: str = LOGS) -> LogFiles | None:
    """Where a writer sends each complete file: the server, or the object store; None
    where ``logs_root`` is already where readers look."""
    ws = current(ws)
    return log_files(ws, kind) if _spooled(ws) else None


def prune_orphans(erase: bool = True, ws: Workspace | None = None) -> Orphans:
    """The logs and labels of models that no longer exist in the workspace's store
    (``core/log_orphans.py``; ``erase``: and erase them); behind a server, the server's
    (an admin key's call)."""
    ws = current(ws)
    kinds = kept_here(ws.settings.artifacts_url)
    if not kinds:  # a server keeps them: it finds and erases them
        return log_files(ws).orphans(erase)  # type: ignore[attr-defined,no-any-return]
    # every project's owners: a name another project holds is no orphan
    owner = getattr(ws.store.projects, "project_of", None)
    if owner is None:
        raise InvalidInputError("this workspace's registry is on a server that does not keep "
                                "its logs: it cannot tell which of them are orphans")
    return orphans(kinds, lambda name: owner("models", name) is not None, erase)


def log_location(ws: Workspace | None = None) -> str:
    """Where a job's or stream's prediction log is, for its record: ``HOST:PATH`` on a
    local store, the server's route behind a server, the URL on an object store."""
    ws = current(ws)
    url = ws.settings.artifacts_url.rstrip("/")
    if url.startswith(("http://", "https://")):
        return f"{url}/api/v1/prediction-logs"
    if _spooled(ws):
        return f"{url}/{LOGS}"
    return f"{socket.gethostname()}:{logs_root(ws).resolve()}"


def hour_of(ts: float) -> str:
    return time.strftime(HOUR_FORMAT, time.gmtime(ts))


def partition(root: Path, name: str, version: int, ts: float) -> Path:
    return hour_dir(root, name, version, hour_of(ts))


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


def read_window(root: Path | LogFiles, name: str, version: int, start: float,
                end: float | None = None, first_hour_only: bool = False,
                incarnation: str | None = None) -> Window:
    """Every complete file of ``name:version`` with rows in [start, end), rows filtered to it
    (``root``: a directory, or any ``LogFiles`` — a server's). Only the hours from
    ``start`` on are listed: a window of the last hour reads as fast after a year of
    logs as after a day.

    ``first_hour_only``: just the earliest logged hour (a baseline for a version that has
    no training profile). ``incarnation``: the version's (``ModelVersion.incarnation``) —
    a file stamped for another life of ``name:version`` (a deleted model's) is skipped."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    end = time.time() + 1 if end is None else end
    source = LocalLogFiles(root) if isinstance(root, Path) else root
    listed = source.list(name, version, since_of(start))
    chosen = sorted({f.hour for f in listed if f.start + 3600 > start and f.start < end})
    if first_hour_only:
        chosen = chosen[:1]
    tables, files, unreadable = [], 0, 0
    for file in (f for f in listed if f.hour in chosen):
        try:
            table = pq.read_table(source.open(name, version, file))
        except (OSError, pa.ArrowException, ArtifactIntegrityError):
            unreadable += 1
            continue
        if not _is_log(table):  # a Parquet file, but not one a writer made
            unreadable += 1
            continue
        if foreign(table, incarnation):
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
