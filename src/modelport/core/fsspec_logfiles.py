"""Prediction-log files on an object store (any fsspec URL: ``s3://``, ``gs://``,
``memory://``…), in the layout of ``core/logfiles.py``.

What a ``modelport server --artifacts s3://…`` keeps its uploaded logs and labels in, and
what a workspace whose artifacts live there uploads its spooled files to. A file becomes
visible only whole: it is written under a ``.tmp-`` key in its hour (never listed) and
then moved to its name — on an object store the upload of the finished file is one
atomic PUT and the move a server-side copy; on a filesystem the move is a rename. A key
left by a crash is never listed and goes with its hour's retention.

>>> files = FsspecLogFiles("s3://team/artifacts/predictions")       # doctest: +SKIP
>>> [f.hour for f in files.list("iris", 2)]                         # doctest: +SKIP
['2026-12-04T22']
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.core.artifacts import private_staging
from modelport.core.logfiles import (
    TEMP_PREFIX,
    Located,
    LogFile,
    check_file,
    check_same,
    check_since,
    ended,
    file_of,
    file_sha256,
    listed,
    model_name,
    recent_hours,
    sha256_of,
    version_number,
)


class FsspecLogFiles:
    """``KeptLogFiles`` under an fsspec URL (``<url>/model=…/version=…/hour=…/part-…``).
    Thread-safe as its filesystem is."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self.base = fsspec.core.url_to_fs(self.url)
        self.staging = private_staging()

    def _version(self, model: str, version: int) -> str:
        return f"{self.base}/model={model}/version={version}"

    def _key(self, model: str, version: int, hour: str, name: str) -> str:
        return f"{self._version(model, version)}/hour={hour}/{name}"

    def _found(self, directory: str) -> dict[str, Any]:
        """Every object in ``directory`` (key → details), none when there is nothing —
        never one beside it whose name only begins the same (``version=10`` for
        ``version=1``): an object store lists by bare prefix, and a backend that let it
        through would hand a version's reader, or its DELETE, another version's files."""
        try:
            found = self.fs.find(directory, detail=True)
        except FileNotFoundError:
            return {}
        return {key: info for key, info in found.items() if key.startswith(f"{directory}/")}

    def list(self, model: str, version: int, since: float | None = None) -> list[LogFile]:
        """The whole history in one walk of the version's keys; ``since``: its hours
        listed by name first, and only the recent ones walked — a month is hundreds of
        hours of hundreds of files each, which a monitor of the last hour must not list."""
        check_since(since)
        version_key = self._version(model, version)
        searched = [version_key] if since is None else \
            recent_hours(_dirs(self.fs, version_key, "hour="), since)
        found = [_kept(key, int(info.get("size") or 0))
                 for directory in searched for key, info in self._found(directory).items()]
        return sorted((f for f in found if f), key=lambda f: (f.hour, f.name))

    def open(self, model: str, version: int, file: LogFile) -> Any:
        """The file's bytes (one flush's rows), for ``pyarrow.parquet.read_table``."""
        import pyarrow as pa

        return pa.BufferReader(self.fs.cat_file(self._key(model, version, file.hour,
                                                          file.name)))

    def put(self, model: str, version: int, path: Path, incarnation: str | None = None
            ) -> None:
        """Keep a complete local file (a workspace's spool uploading here)."""
        _, _, file = file_of(path)
        self.commit(path, self._key(model, version, file.hour, file.name), file_sha256(path))

    def commit(self, path: Path, key: str, digest: str) -> None:
        """``path`` under ``key``, visible only whole; kept once (the same bytes again are
        fine, others a ``ConflictError``)."""
        if self.fs.exists(key):
            check_same(key.rsplit("/", 1)[1], sha256_of(self.fs.open(key, "rb")), digest)
            return
        directory = key.rsplit("/", 1)[0]
        temp = f"{directory}/{TEMP_PREFIX}{uuid.uuid4().hex}.parquet"
        self.fs.makedirs(directory, exist_ok=True)
        try:
            self.fs.put_file(str(path), temp)
            self.fs.mv(temp, key)
        finally:
            if self.fs.exists(temp):
                self.fs.rm_file(temp)

    def receiver(self, model: str, version: int, hour: str, name: str) -> ObjectReceiver:
        check_file(model, version, hour, name)
        return ObjectReceiver(self.staging, self, self._key(model, version, hour, name))

    def locate(self, model: str, version: int, hour: str, name: str) -> Located | None:
        key = self._key(model, version, hour, name)
        return Located(key, Opened(self.fs)) if self.fs.isfile(key) else None

    def versions(self, model: str) -> tuple[int, ...]:
        """The versions listed in ``model``'s directory (by name: never its files)."""
        try:
            found = self.fs.ls(f"{self.base}/model={model}", detail=False, refresh=True)
        except FileNotFoundError:
            return ()
        numbers = (version_number(str(key).rstrip("/").rsplit("/", 1)[-1]) for key in found)
        return tuple(sorted(n for n in numbers if n is not None))

    def models(self) -> tuple[str, ...]:
        """The models listed at the top (by name: never their files)."""
        names = (model_name(d.rsplit("/", 1)[-1]) for d in _dirs(self.fs, self.base, "model="))
        return tuple(sorted(n for n in names if n is not None))

    def remove(self, model: str, version: int) -> int:
        found = self._found(self._version(model, version))
        removed = sum(1 for key in found if _kept(key))
        if found:
            self.fs.rm(list(found))
        return removed

    def remove_older(self, before: float) -> int:
        """Delete every hour that ended before ``before``; how many went. Walked by name
        (models, their versions, their hours): an hour holds a file per writer per flush,
        so a month is millions of keys, which a pass must not list to keep most of them."""
        gone = [hour for model in _dirs(self.fs, self.base, "model=")
                for version in _dirs(self.fs, model, "version=")
                for hour in _dirs(self.fs, version, "hour=")
                if ended(hour.rsplit("/", 1)[1], before)]
        for hour in gone:
            with contextlib.suppress(FileNotFoundError):  # another writer's pass was first
                self.fs.rm(hour, recursive=True)
        return len(gone)


@dataclass
class Opened:
    """A store's files as a server sends them (``info`` and ``open``, what Litestar's
    ``File`` asks of a file system), opened plainly: the ``buffering`` it passes would
    reach some fsspec stores as their block size (s3fs once cut responses short so:
    litestar-org/litestar#4049)."""

    fs: Any

    def info(self, path: str, **_: Any) -> Any:
        return self.fs.info(path)

    def open(self, file: str, mode: str = "rb", buffering: int = -1) -> Any:
        return self.fs.open(file, mode)


def _dirs(fs: Any, path: str, prefix: str) -> list[str]:
    """The directories under ``path`` named ``prefix…``, listed afresh (a cached listing
    would miss what other servers wrote since)."""
    try:
        found = fs.ls(path, detail=True, refresh=True)
    except FileNotFoundError:
        return []
    names = [f["name"].rstrip("/") for f in found if f.get("type") == "directory"]
    return [name for name in names if name.rsplit("/", 1)[-1].startswith(prefix)]


def _kept(key: str, size: int = 0) -> LogFile | None:
    """The complete file a key found in a version's directory is; None for anything else
    (a writer's ``.tmp-`` key, an object no writer makes)."""
    directory, name = key.split("/")[-2:]
    hour = directory.removeprefix("hour=")
    return LogFile(hour, name, size) if directory.startswith("hour=") and listed(hour, name) \
        else None


@dataclass
class ObjectReceiver:
    """An upload's destination on an object store: ``Upload`` writes to ``staging`` (on
    this machine) and, once the digest matched, ``put_file`` sends it up whole."""

    staging: Path
    files: FsspecLogFiles
    key: str

    def put_file(self, path: Path, digest: str) -> None:
        try:
            self.files.commit(path, self.key, digest)
        finally:
            path.unlink(missing_ok=True)

    def take_back(self) -> None:
        """Remove the object ``put_file`` kept (gone already: nothing to do)."""
        with contextlib.suppress(FileNotFoundError):
            self.files.fs.rm_file(self.key)
