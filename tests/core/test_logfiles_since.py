"""``list(model, version, since=…)``: only the hours that can hold records at or after
``since``, found by their names — the hours before it are never opened, on this machine's
disk or on an object store (fsspec's in-memory filesystem, a real implementation), so a
monitor of the last hour costs the same after a year of logs as after a day."""

from __future__ import annotations

import calendar
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

from hourly_logs import hourly, opened
from modelport.core.fsspec_logfiles import FsspecLogFiles
from modelport.core.logfiles import LocalLogFiles, check_since, since_of
from modelport.errors import InvalidInputError

pytestmark = pytest.mark.storage_independent
NOW = float(calendar.timegm((2026, 12, 6, 10, 30, 0)))
HOURS = [NOW - 1800 - h * 3600 for h in range(24 * 30)]  # a month of hours, to this one
SINCE = NOW - 2 * 3600  # 08:30: hours 08 (its later half), 09 and 10
RECENT = ["2026-12-06T08", "2026-12-06T09", "2026-12-06T10"]


def test_a_local_listing_since_opens_only_the_recent_hours(tmp_path: Path) -> None:
    files = LocalLogFiles(tmp_path / "predictions")
    hourly(files, tmp_path / "staging", "iris", 2, HOURS)
    assert len(files.list("iris", 2)) == len(HOURS)
    with opened() as listed:
        recent = files.list("iris", 2, since=SINCE)
    assert [f.hour for f in recent] == RECENT
    hours = [Path(d).name for d in listed if Path(d).name.startswith("hour=")]
    assert sorted(hours) == [f"hour={h}" for h in RECENT]  # not one old hour opened
    with opened() as listed:
        files.list("iris", 2)
    assert sum(Path(d).name.startswith("hour=") for d in listed) == len(HOURS)


def test_since_at_an_hours_end_leaves_it_out_and_one_second_before_keeps_it(
        tmp_path: Path) -> None:
    files = LocalLogFiles(tmp_path)
    hourly(files, tmp_path / "staging", "iris", 1, HOURS[:3])
    ten = calendar.timegm((2026, 12, 6, 10, 0, 0))
    assert [f.hour for f in files.list("iris", 1, since=ten)] == ["2026-12-06T10"]
    assert [f.hour for f in files.list("iris", 1, since=ten - 1)] == RECENT[1:]
    assert files.list("iris", 1, since=NOW + 3600) == []
    assert files.list("iris", 7, since=SINCE) == []  # no such version: nothing, no error


def test_names_no_writer_makes_are_passed_over_by_name(tmp_path: Path) -> None:
    files = LocalLogFiles(tmp_path)
    hourly(files, tmp_path / "staging", "iris", 1, HOURS[:1])
    base = tmp_path / "model=iris" / "version=1"
    for odd in ("hour=not-an-hour", "hour=2026-13-45T99", "other"):
        (base / odd).mkdir()
        (base / odd / f"part-{uuid.uuid4().hex}.parquet").write_bytes(b"PAR1")
    with opened() as listed:
        assert [f.hour for f in files.list("iris", 1, since=SINCE)] == ["2026-12-06T10"]
    assert not any(Path(d).name in ("hour=not-an-hour", "hour=2026-13-45T99", "other")
                   for d in listed)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 1e300, -1e300, 2.6e11])
def test_a_since_no_hour_can_reach_is_refused(tmp_path: Path, bad: float) -> None:
    with pytest.raises(InvalidInputError, match="invalid since"):
        check_since(bad)
    with pytest.raises(InvalidInputError, match="invalid since"):
        LocalLogFiles(tmp_path).list("iris", 1, since=bad)
    with pytest.raises(InvalidInputError, match="invalid since"):
        FsspecLogFiles(f"memory://mp-{uuid.uuid4().hex}/p").list("iris", 1, since=bad)


def test_a_windows_start_becomes_the_since_that_lists_its_hours() -> None:
    assert since_of(SINCE) == SINCE
    for everything in (-1e300, -math.inf, math.nan):  # before any hour: every hour
        assert since_of(everything) is None
    assert since_of(1e300) is not None and check_since(since_of(1e300)) is None


class Walked(MemoryFileSystem):
    """The in-memory filesystem, noting every path a listing was asked for (``ls``,
    ``find``) and every name one returned."""

    asked: ClassVar[list[str]] = []
    names: ClassVar[set[str]] = set()

    def ls(self, path: Any, detail: bool = True, **kwargs: Any) -> Any:
        self.asked.append(self._strip_protocol(path))
        return self._noted(super().ls(path, detail=detail, **kwargs))

    def find(self, path: Any, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(self._strip_protocol(path))
        return self._noted(super().find(path, *args, **kwargs))

    def _noted(self, found: Any) -> Any:
        self.names.update(f["name"] if isinstance(f, dict) else f for f in found)
        return found


@pytest.fixture
def stored(tmp_path: Path) -> Iterator[FsspecLogFiles]:
    files = FsspecLogFiles(f"memory://mp-{uuid.uuid4().hex}/predictions")
    hourly(files, tmp_path, "iris", 2, HOURS[:24 * 7])
    hourly(files, tmp_path, "iris", 20, HOURS[:2])  # a version its number begins
    files.fs = Walked()
    Walked.asked, Walked.names = [], set()
    yield files
    fsspec.filesystem("memory").rm(files.base.rsplit("/", 1)[0], recursive=True)


def test_an_object_store_listing_since_never_lists_an_old_hour(
        stored: FsspecLogFiles) -> None:
    recent = stored.list("iris", 2, since=SINCE)
    assert [f.hour for f in recent] == RECENT
    version = f"{stored.base}/model=iris/version=2"
    assert Walked.asked[0] == version and len(Walked.asked) == 1 + len(RECENT)
    assert all(a == version or a.split("/")[-1].removeprefix("hour=") in RECENT
               for a in Walked.asked)
    old = {n for n in Walked.names if "/hour=" in n and n.endswith(".parquet")
           and n.split("/")[-2].removeprefix("hour=") not in RECENT}
    assert old == set()  # the old hours' names were seen, never their files
    Walked.asked = []
    assert len(stored.list("iris", 2)) == 24 * 7  # the whole history: one walk, as before
    assert Walked.asked == [version]
