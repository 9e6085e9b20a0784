"""Log files on an object store (fsspec's in-memory filesystem): a file is visible whole or
not at all — never half, and never under its name while it is being sent."""

from __future__ import annotations

import calendar
import hashlib
import os
import stat
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from modelport.core.artifacts import FsspecArtifactStore
from modelport.core.fsspec_logfiles import FsspecLogFiles
from modelport.core.log_stores import open_log_files
from modelport.errors import ConflictError

pytestmark = pytest.mark.storage_independent
HOUR, NAME = "2026-12-04T22", "part-" + "d" * 32 + ".parquet"


class Watched(MemoryFileSystem):
    """The in-memory filesystem, noting whether a file's name showed while it was being
    sent, and made to fail its move when ``broken``."""

    broken = False
    final = ""  # the name to watch
    seen_early: ClassVar[list[bool]] = []

    def put_file(self, lpath: Any, rpath: Any, **kwargs: Any) -> None:
        super().put_file(lpath, rpath, **kwargs)
        self.seen_early.append(self.exists(self.final))

    def mv(self, path1: Any, path2: Any, **kwargs: Any) -> None:
        if self.broken:
            raise OSError("the store went away")
        super().mv(path1, path2, **kwargs)


@pytest.fixture
def files() -> Iterator[FsspecLogFiles]:
    url = f"memory://mp-{uuid.uuid4().hex}/predictions"
    kept = open_log_files(url.removesuffix("/predictions"))
    assert isinstance(kept, FsspecLogFiles)
    kept.fs = Watched()  # the same store (memory is one per process), watched
    Watched.final = f"{kept.base}/model=iris/version=1/hour={HOUR}/{NAME}"
    Watched.broken, Watched.seen_early = False, []
    yield kept
    fsspec.filesystem("memory").rm(kept.base.rsplit("/", 1)[0], recursive=True)


def _file(tmp_path: Path, body: bytes) -> Path:
    path = tmp_path / "model=iris" / "version=1" / f"hour={HOUR}" / NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_a_file_shows_under_its_name_only_once_whole(files: FsspecLogFiles,
                                                    tmp_path: Path) -> None:
    files.put("iris", 1, _file(tmp_path, b"PAR1" * 1000))
    assert Watched.seen_early == [False]  # sent under a temporary key first
    assert files.fs.cat_file(Watched.final) == b"PAR1" * 1000
    assert [(f.hour, f.name, f.size) for f in files.list("iris", 1)] == [(HOUR, NAME, 4000)]
    assert files.fs.find(files.base) == [Watched.final]  # no temporary key left


def test_a_failed_move_leaves_neither_the_file_nor_its_temporary_key(
        files: FsspecLogFiles, tmp_path: Path) -> None:
    Watched.broken = True
    with pytest.raises(OSError, match="went away"):
        files.put("iris", 1, _file(tmp_path, b"PAR1"))
    assert files.list("iris", 1) == []
    assert not files.fs.exists(files.base) or files.fs.find(files.base) == []


def test_the_same_file_twice_is_kept_once_and_other_bytes_are_refused(
        files: FsspecLogFiles, tmp_path: Path) -> None:
    files.put("iris", 1, _file(tmp_path, b"PAR1"))
    files.put("iris", 1, _file(tmp_path, b"PAR1"))  # a retry whose answer was lost
    receiver = files.receiver("iris", 1, HOUR, NAME)
    other = _file(tmp_path, b"PAR2")
    with pytest.raises(ConflictError, match="never replaced"):
        receiver.put_file(other, hashlib.sha256(b"PAR2").hexdigest())
    assert not other.exists()  # the received copy goes either way
    assert files.fs.cat_file(Watched.final) == b"PAR1"


def test_a_received_file_waits_where_no_other_user_can_reach_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The system's temp directory is everyone's: a ``modelport-staging`` another user made
    there first must not be where an upload to an object store waits — its owner could
    swap the file between its digest check and its upload, or lock the server out."""
    theirs = tmp_path / "modelport-staging"
    theirs.mkdir()
    theirs.chmod(0o777)
    if os.getuid() == 0:
        os.chown(theirs, 65534, 65534)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for store in (FsspecLogFiles(f"memory://mp-{uuid.uuid4().hex}/predictions"),
                  FsspecArtifactStore(f"memory://mp-{uuid.uuid4().hex}/artifacts")):
        info = store.staging.lstat()
        assert store.staging != theirs
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0


class Listed(MemoryFileSystem):
    """The in-memory filesystem, noting every name a listing returned."""

    names: ClassVar[set[str]] = set()

    def ls(self, path: Any, detail: bool = True, **kwargs: Any) -> Any:
        return self._noted(super().ls(path, detail=detail, **kwargs))

    def find(self, path: Any, *args: Any, **kwargs: Any) -> Any:
        return self._noted(super().find(path, *args, **kwargs))

    def _noted(self, found: Any) -> Any:
        self.names.update(f["name"] if isinstance(f, dict) else f for f in found)
        return found


def test_retention_lists_hours_not_the_files_of_the_hours_it_keeps(
        files: FsspecLogFiles, tmp_path: Path) -> None:
    """A version's hour holds a file per writer per flush (10 s): hundreds an hour, so a
    month of them is millions of keys, which a pass every five minutes must not list."""
    files.put("iris", 1, _file(tmp_path, b"PAR1"))
    old = f"{files.base}/model=iris/version=2/hour=2026-12-01T00/{NAME}"
    files.fs.pipe_file(old, b"PAR1")
    files.fs = Listed()
    Listed.names = set()
    assert files.remove_older(calendar.timegm((2026, 12, 4, 0, 0, 0))) == 1
    assert not files.fs.exists(old) and files.fs.exists(Watched.final)
    assert Watched.final not in Listed.names  # the kept hour's files were never listed


class Prefixed(MemoryFileSystem):
    """A store listing by bare key prefix, as an object store's own API does (fsspec's
    backends bound it to the directory themselves, gcsfs by filtering what GCS sent)."""

    def find(self, path: Any, *args: Any, detail: bool = False, **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        found = {k: self.info(k) for k in self.store if k.startswith(path)}
        return found if detail else sorted(found)


def test_a_version_never_reaches_the_files_of_a_version_its_number_begins(
        files: FsspecLogFiles, tmp_path: Path) -> None:
    files.put("iris", 1, _file(tmp_path, b"PAR1"))
    tenth = f"{files.base}/model=iris/version=10/hour={HOUR}/{NAME}"
    files.fs.pipe_file(tenth, b"PAR1")
    files.fs = Prefixed()
    assert len(files.list("iris", 1)) == 1 and len(files.list("iris", 10)) == 1
    assert files.remove("iris", 1) == 1
    assert files.fs.exists(tenth) and files.list("iris", 10) != []


def test_a_received_file_is_taken_back_whole_and_its_model_listed_by_name(
        files: FsspecLogFiles, tmp_path: Path) -> None:
    """A server that finds, once a file is in place, that its version is gone takes it
    back (``interfaces/team/logfiles.py``); the orphan check lists models by name."""
    receiver = files.receiver("iris", 1, HOUR, NAME)
    receiver.put_file(_file(tmp_path, b"PAR1"), hashlib.sha256(b"PAR1").hexdigest())
    assert [f.name for f in files.list("iris", 1)] == [NAME]
    assert files.models() == ("iris",)
    receiver.take_back()
    receiver.take_back()  # gone already: nothing to do
    assert files.list("iris", 1) == []
