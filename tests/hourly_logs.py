"""A version's log across many hours, written as writers lay it out and kept with ``put``;
and which directories this process opened meanwhile (``opened``).

``opened`` watches the interpreter's audit events (``os.scandir``, ``os.listdir``): what
a directory listing does on this machine, whoever the user is — a directory made
unreadable would not do (the tests run as root, who reads it anyway; and ``Path.glob``
passes over an unreadable directory without a word)."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from modelport.core.logfiles import LogFiles
from modelport.lifecycle.predlogs import INPUT_PREFIX, partition

_watching: list[list[str]] = []
_hooked = False


def log_file(staging: Path, model: str, version: int, ts: Sequence[float],
             request_ids: Sequence[str], inputs: dict[str, Sequence[float]],
             predictions: Sequence[str]) -> Path:
    """One complete file of ``model:version`` under ``staging`` (the layout's place for the
    hour of ``ts[0]``), with the columns a writer gives it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = partition(staging, model, version, ts[0])
    directory.mkdir(parents=True, exist_ok=True)
    columns: dict[str, Any] = {"ts": pa.array(ts, pa.float64()),
                               "request_id": pa.array(request_ids, pa.string())}
    columns |= {INPUT_PREFIX + name: pa.array(values, pa.float64())
                for name, values in inputs.items()}
    columns["prediction"] = pa.array(predictions, pa.string())
    path = directory / f"part-{uuid.uuid4().hex}.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def hourly(files: LogFiles, staging: Path, model: str, version: int,
           starts: Sequence[float]) -> None:
    """A small file in each hour that begins at one of ``starts``, kept in ``files``."""
    for start in starts:
        files.put(model, version, log_file(staging, model, version, [start + 60.0],
                                           [f"r{int(start)}"], {"x": [1.0]}, ["0"]))


def _note(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event in ("os.scandir", "os.listdir"):
        where = args[0] if args and args[0] is not None else "."
        _watching[-1].append(os.fsdecode(where) if isinstance(where, str | bytes | os.PathLike)
                             else str(where))


@contextlib.contextmanager
def opened() -> Iterator[list[str]]:
    """The directories listed in this process within the block (an audit hook: installed
    once, for the process's life, and silent outside such a block)."""
    global _hooked
    if not _hooked:
        sys.addaudithook(_note)
        _hooked = True
    _watching.append([])
    try:
        yield _watching[-1]
    finally:
        _watching.pop()
