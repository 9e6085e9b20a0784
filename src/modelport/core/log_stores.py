"""Which log files an artifact store's URL means: a directory's (``LocalLogFiles``), an
object store's (``FsspecLogFiles``) or a ``modelport server``'s (``RestLogFiles``, through
the workspace's connection). Kept apart from both kinds so neither imports the other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.core.fsspec_logfiles import FsspecLogFiles
from modelport.core.logfiles import (
    KINDS,
    LOGS,
    KeptLogFiles,
    LocalLogFiles,
    LogFiles,
    is_directory,
)
from modelport.errors import InvalidInputError


def open_log_files(url: str, artifacts: Any = None, kind: str = LOGS) -> LogFiles:
    """The log files (``kind``: ``LOGS`` or ``LABELS``) of an artifact store's URL: a
    directory (``file://`` or a path) keeps them under ``predictions/`` (``labels/``), and
    so does any other fsspec URL (``s3://…``: ``core/fsspec_logfiles.py``); a ``modelport
    server`` (``artifacts``: the workspace's store of that URL, whose connection they
    share) behind ``/api/v1``."""
    if kind not in KINDS:
        raise InvalidInputError(f"no such kind of log file: {kind!r}")
    if url.startswith(("http://", "https://")):
        if artifacts is None or not hasattr(artifacts, "log_files"):
            raise InvalidInputError(f"no connection to {url} for its prediction logs")
        return artifacts.log_files(kind)  # type: ignore[no-any-return]
    return _kept(url, kind)


def _kept(url: str, kind: str) -> KeptLogFiles:
    """The files of ``kind`` under a directory's or an object store's URL."""
    if not is_directory(url):
        return FsspecLogFiles(f"{url.rstrip('/')}/{kind}")
    return LocalLogFiles(Path(url.removeprefix("file://")) / kind)


def kept_here(url: str) -> list[KeptLogFiles]:
    """The log files of each kind an artifact store's URL keeps itself (a directory, an
    object store); none for a server's URL (the server keeps them, and erases them)."""
    if url.startswith(("http://", "https://")):
        return []
    return [_kept(url, kind) for kind in KINDS]
