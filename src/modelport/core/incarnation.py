"""Which life of a model version a log file belongs to: its *incarnation*.

Prediction logs and labels are kept by model name and version number
(``core/logfiles.py``), and both come back: a deleted model's numbering goes with its
records, so a model made later under the name — in any project — has an ``iris:1`` again.
A file sent late for the deleted ``iris:1`` (an upload that was under way, a serving
machine that still held unsent files) would become the new one's history. So a writer
says which ``iris:1`` it logged: the incarnation of the version it loaded, a digest of
what only that registration has — its name, number, registration time and artifact —
stamped into each file it writes (Parquet metadata, so a file spooled before a restart
still says it) and sent with each upload (``HEADER``). The server keeps a file only while
the version registered under that name and number is that one (``VersionGoneError``
otherwise), and a writer drops what is refused so.

The registration time alone would nearly do, but a client chooses it when it registers
(a copy into an image keeps the original's, ``lifecycle/transfer.py``, so an image's logs
count as the version's own); with the artifact's digest too, a new model matches an old
one's incarnation only by registering the same bytes at the same microsecond.

>>> incarnation("iris", 1, version.created, version.artifact_digest)  # doctest: +SKIP
'5b0c8f1e4d2a97c3e6f1a0b9d8c7e6f5'
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, ModelportError

HEADER = "X-Model-Incarnation"
STAMP = b"modelport.incarnation"  # the key of a file's Parquet metadata holding it
FORM = re.compile(r"[0-9a-f]{32}")


class VersionGoneError(ModelportError):
    """A log file of a version that is no longer the one registered under its name and
    number (deleted, or a new model's): the server keeps nothing, the writer drops it."""

    code = "version_gone"
    status = 410


def incarnation(name: str, version: int, created: float, artifact_digest: str) -> str:
    """The incarnation of version ``version`` of ``name`` registered at ``created`` with
    the artifact ``artifact_digest``: 32 hex digits."""
    text = f"{name}\n{int(version)}\n{float(created)!r}\n{artifact_digest}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def claimed(text: str | None) -> str | None:
    """The incarnation an upload names (None: it names none); ``InvalidInputError`` for
    anything a writer does not send."""
    if not text:
        return None
    if not FORM.fullmatch(text):
        raise InvalidInputError(f"{HEADER} must be 32 hex digits (a version's incarnation)")
    return text


def stamp(table: Any, incarnation: str | None) -> Any:
    """A pyarrow ``table`` whose file will say ``incarnation`` (unchanged for None)."""
    if incarnation is None:
        return table
    return table.replace_schema_metadata({**(table.schema.metadata or {}),
                                          STAMP: incarnation.encode()})


def stamped(path: Path) -> str | None:
    """The incarnation stamped into the Parquet file at ``path`` (None: a file written
    before writers stamped them, or none a writer made)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_metadata(path).metadata or {}
    except (pa.ArrowException, ValueError):
        return None
    found = metadata.get(STAMP, b"").decode("ascii", "replace")
    return found if FORM.fullmatch(found) else None


def foreign(table: Any, incarnation: str | None) -> bool:
    """Whether a file read as ``table`` says it is of another life of its version than
    ``incarnation`` (None: any will do; an unstamped file says nothing, and counts): a
    reader skips it — whatever put it there (a writer in a workspace's own directory,
    where no server checks, still logging a model deleted meanwhile)."""
    found = (table.schema.metadata or {}).get(STAMP)
    return incarnation is not None and found is not None and found != incarnation.encode()
