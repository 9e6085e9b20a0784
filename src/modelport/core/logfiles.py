"""Prediction-log files by model, version and hour: where writers put them, where readers
find them — in a directory, or behind a ``modelport server``.

The layout (``lifecycle/predlogs.py`` says what a file holds)::

    <root>/model=iris/version=2/hour=2026-12-04T22/part-<32 hex>.parquet

Two kinds of files share it, each under its own root: the logged predictions
(``predictions/``) and the delayed labels joined to them by request id (``labels/``,
``lifecycle/labels.py``).

``LogFiles`` is what a reader needs (the complete files of one version, and each one's
bytes) and what an uploader needs (``put`` a complete file); ``LocalLogFiles`` keeps
them in a directory, ``core/fsspec_logfiles.py`` on an object store,
``core/store/rest/logfiles.py`` on a server (chosen by URL, ``core/log_stores.py``).
Every name that reaches a path is checked first (``check_file``): a model name as the
registry allows it, a version number, an hour as ``HOUR_FORMAT`` writes it, a part's name
as writers make it — nothing else, so ``..``, ``/`` or NUL never reach the filesystem.

A reader of a window lists from its start (``since``): the hours before it are passed
over by their directory's name — never listed, never stat'ed, never sent — so the last
hour of a version costs the same after a year of logs as after a day.

>>> files = LocalLogFiles(Path("/srv/modelport/artifacts/predictions"))  # doctest: +SKIP
>>> [f.hour for f in files.list("iris", 2)]                         # doctest: +SKIP
['2026-12-04T21', '2026-12-04T22', '2026-12-04T23']
>>> since = hour_start("2026-12-04T22")  # a window from 22:00 UTC
>>> [f.hour for f in files.list("iris", 2, since=since)]             # doctest: +SKIP
['2026-12-04T22', '2026-12-04T23']
"""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

from modelport.core.store.registry import MODEL_NAME
from modelport.errors import ConflictError, InvalidInputError, StoreUnavailableError

LOGS = "predictions"
LABELS = "labels"
KINDS = (LOGS, LABELS)
HOUR_FORMAT = "%Y-%m-%dT%H"
PREFIX = "part-"
TEMP_PREFIX = ".tmp-"
MAX_FILE = 256 * 1024**2  # bytes: one flush's file (a writer buffers 200,000 rows at most)
HOUR = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}")
PART = re.compile(rf"{PREFIX}[0-9a-f]{{32}}\.parquet")
# the instants the layout's hours span: 0001-01-01T00 to the end of 9999-12-31T23 (UTC)
EARLIEST, LATEST = -62135596800.0, 253402300800.0


@dataclass(frozen=True)
class LogFile:
    """One complete file of a version's log: its hour (``HOUR_FORMAT``), name and size."""

    hour: str
    name: str
    size: int

    @property
    def start(self) -> float:
        """The epoch second its hour begins at."""
        return hour_start(self.hour)


def hour_start(hour: str) -> float:
    """The epoch second an hour written as ``HOUR_FORMAT`` begins at (``ValueError`` for
    anything else)."""
    return float(calendar.timegm(time.strptime(hour, HOUR_FORMAT)))


def version_dir(root: Path, model: str, version: int) -> Path:
    """The layout's directory of ``model:version`` under a log root."""
    return root / f"model={model}" / f"version={version}"


def hour_dir(root: Path, model: str, version: int, hour: str) -> Path:
    return version_dir(root, model, version) / f"hour={hour}"


def ended(directory: str, before: float) -> bool:
    """Whether an ``hour=…`` directory's hour ended before ``before`` (False for a name
    no writer makes: not retention's to remove)."""
    try:
        return hour_start(directory.removeprefix("hour=")) + 3600 <= before
    except ValueError:
        return False


def recent_hours(directories: Iterable[str], since: float | None) -> list[str]:
    """The ``hour=…`` directories (names, or paths ending in one) to look in for files
    with records at or after ``since`` (None: every hour), oldest first — chosen by name
    alone, so an hour that ended by ``since`` is never opened, nor is a name no writer
    makes (nothing in it would be listed). Hours sort as their names do: the walk goes
    back from the newest and stops at the first that ended, so a year of hours costs
    what its last few do."""
    named = sorted((d for d in directories if _hour_name(d)), key=_base)
    if since is None:
        return named
    kept = []
    for directory in reversed(named):
        try:
            if hour_start(_base(directory).removeprefix("hour=")) + 3600 <= since:
                break
        except ValueError:  # no such hour (a 13th month): nothing of it is after anything
            continue
        kept.append(directory)
    return kept[::-1]


def _base(directory: str) -> str:
    return directory.rstrip("/").rsplit("/", 1)[-1]


def _hour_name(directory: str) -> bool:
    name = _base(directory)
    return name.startswith("hour=") and bool(HOUR.fullmatch(name.removeprefix("hour=")))


def check_since(since: float | None) -> None:
    """``InvalidInputError`` unless ``since`` is None or an instant the layout's hours can
    reach: NaN, an infinity or a year past 9999 would pick no hour, or every one, by
    accident rather than by asking."""
    if since is None:
        return
    if isinstance(since, bool) or not isinstance(since, int | float) \
            or not EARLIEST <= since <= LATEST:
        raise InvalidInputError(f"invalid since {since!r} — an epoch second between "
                                "0001-01-01 and 9999-12-31 (UTC)")


def since_of(start: float) -> float | None:
    """The ``since`` that lists the hours a window beginning at ``start`` needs: None
    (every hour) for a start before the layout's first hour, the last hour's end for
    one past it."""
    return min(start, LATEST) if start > EARLIEST else None


def listed(hour: str, name: str) -> bool:
    """Whether a file found in an ``hour=…`` directory is one to list: a real hour, a
    complete file (never a writer's ``.tmp-`` one)."""
    return bool(HOUR.fullmatch(hour)) and name.startswith(PREFIX) and name.endswith(".parquet")


class LogFiles(Protocol):
    """Where a workspace's prediction-log files are. Thread-safe; ``put`` is idempotent
    (the same file twice is kept once; other bytes under a kept name are a conflict)."""

    def list(self, model: str, version: int, since: float | None = None) -> list[LogFile]:
        """Every complete file of ``model:version``, oldest hour first; ``since`` (epoch
        seconds): only those of the hours that end after it, the older hours passed over
        by name (``recent_hours``). ``InvalidInputError`` for a ``since`` no hour can reach
        (``check_since``)."""
        ...

    def open(self, model: str, version: int, file: LogFile) -> Any:
        """What ``pyarrow.parquet.read_table`` reads: a path, or a buffer."""
        ...

    def put(self, model: str, version: int, path: Path, incarnation: str | None = None
            ) -> None:
        """Keep the complete file at ``path`` (named and placed as the layout says);
        ``incarnation``: the life of ``model:version`` it was logged for
        (``core/incarnation.py``) — a server keeps it only while that version is the one
        registered (``VersionGoneError`` otherwise); a directory or an object store, which
        know no registry, keep it as they are told."""
        ...


@dataclass(frozen=True)
class Located:
    """Where a kept file is: a path on ``file_system`` (an fsspec filesystem; None: this
    machine's disk)."""

    path: str
    file_system: Any = None


@runtime_checkable
class Aging(Protocol):
    """Log files that can lose their old hours (a directory's, an object store's)."""

    def remove_older(self, before: float) -> int:
        """Delete every hour that ended before ``before``; how many went."""
        ...


class KeptLogFiles(LogFiles, Aging, Protocol):
    """Log files a server keeps itself (a directory, an object store): it also receives
    uploads, finds a file to send, and removes a version's files."""

    def receiver(self, model: str, version: int, hour: str, name: str) -> Any:
        """Where ``core.upload.Upload`` puts a received file once whole and checked
        (``InvalidInputError`` first for a name the layout does not make); its
        ``take_back()`` removes the file again (a server that found, once it was in place,
        that its version is gone: ``interfaces/team/logfiles.py``)."""
        ...

    def models(self) -> tuple[str, ...]:
        """The model names that have a directory here (files or not), as the layout makes
        them: what ``core/log_orphans.py`` checks against the registry."""
        ...

    def locate(self, model: str, version: int, hour: str, name: str) -> Located | None: ...

    def remove(self, model: str, version: int) -> int:
        """Delete every file of ``model:version``; how many went."""
        ...

    def versions(self, model: str) -> tuple[int, ...]:
        """The versions of ``model`` that have a directory here (files or not)."""
        ...


def version_number(directory: str) -> int | None:
    """The version a ``version=N`` directory is of (None for a name no writer makes)."""
    number = directory.removeprefix("version=")
    return int(number) if directory.startswith("version=") and number.isdecimal() \
        and number.isascii() else None


def model_name(directory: str) -> str | None:
    """The model a ``model=NAME`` directory is of (None for a name no writer makes)."""
    name = directory.removeprefix("model=")
    return name if directory.startswith("model=") and MODEL_NAME.fullmatch(name) else None


def holds(files: KeptLogFiles, model: str) -> bool:
    """Whether any version of ``model`` has a complete file in ``files``."""
    check_model(model)
    return any(files.list(model, version) for version in files.versions(model))


def remove_model(kinds: Sequence[KeptLogFiles], model: str) -> int:
    """Delete the files of every version of ``model`` in each of ``kinds``; how many
    complete ones went."""
    check_model(model)
    return sum(files.remove(model, version) for files in kinds
               for version in files.versions(model))


def erase_model(kinds: Sequence[KeptLogFiles], model: str) -> int:
    """Delete the files of every version of ``model`` in each of ``kinds``; how many
    complete ones went. ``StoreUnavailableError`` if one is still listed afterwards (a
    file that could not be removed, or one uploaded meanwhile): the caller keeps the
    model's records then, so the leftovers stay its own — never the next model's."""
    removed = remove_model(kinds, model)
    if any(holds(files, model) for files in kinds):
        raise StoreUnavailableError(f"the prediction logs of model {model!r} could not all "
                                    "be erased — the model is kept; try again")
    return removed


@dataclass(frozen=True)
class Retention:
    """How long log files are kept: a pass removes, from each kind it holds (the
    predictions and the delayed labels joined to them), the hours that ended more than
    ``seconds`` before it — one retention for both, so labels never outlive the
    predictions they score. A writer's own (``modelport serve --log-retention``,
    ``lifecycle.labels.writer_retention``) and the team server's are this one.

    >>> month = Retention((LocalLogFiles(logs), LocalLogFiles(labels)), 30 * 86400)
    >>> month.prune(time.time())                                       # doctest: +SKIP
    3
    """

    kinds: Sequence[Aging]
    seconds: float

    def prune(self, now: float) -> int:
        """Remove the hours ended before ``now - seconds`` of every kind; how many went."""
        return sum(kind.remove_older(now - self.seconds) for kind in self.kinds)


def check_model(model: str) -> None:
    """``InvalidInputError`` unless ``model`` is a name the layout makes."""
    if not MODEL_NAME.fullmatch(model):
        raise InvalidInputError(f"invalid model name {model!r} in a prediction-log path")


def check_version(model: str, version: int) -> None:
    """``InvalidInputError`` unless ``model`` and ``version`` are parts the layout makes."""
    check_model(model)
    if isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        raise InvalidInputError(f"invalid version {version!r} in a prediction-log path")


def check_file(model: str, version: int, hour: str, name: str) -> None:
    """``InvalidInputError`` unless every part is one the layout makes."""
    check_version(model, version)
    if not HOUR.fullmatch(hour):
        raise InvalidInputError(f"invalid hour {hour!r} — an hour is written as "
                                "YYYY-MM-DDTHH (UTC)")
    try:
        time.strptime(hour, HOUR_FORMAT)
    except ValueError:
        raise InvalidInputError(f"invalid hour {hour!r} — no such hour") from None
    if not PART.fullmatch(name):
        raise InvalidInputError(f"invalid prediction-log file name {name!r} — a file is "
                                f"named {PREFIX}<32 hex digits>.parquet")


def file_of(path: Path) -> tuple[str, int, LogFile]:
    """(model, version, file) of a path laid out as ``<root>/model=…/version=…/hour=…/part-…``."""
    hour_dir = path.parent
    version_dir = hour_dir.parent
    model = version_dir.parent.name.removeprefix("model=")
    try:
        version = int(version_dir.name.removeprefix("version="))
    except ValueError:
        raise InvalidInputError(f"{path} is not where a prediction log is kept") from None
    hour = hour_dir.name.removeprefix("hour=")
    check_file(model, version, hour, path.name)
    return model, version, LogFile(hour, path.name, path.stat().st_size)


class LocalLogFiles:
    """Prediction logs in a directory (the embedded default; the server's own)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging = self.root / ".staging"  # where ``core.upload.Upload`` receives

    def directory(self, model: str, version: int, hour: str) -> Path:
        return hour_dir(self.root, model, version, hour)

    def list(self, model: str, version: int, since: float | None = None) -> list[LogFile]:
        check_since(since)
        base = version_dir(self.root, model, version)
        found = []
        for directory in recent_hours(_names(base), since):
            hour = directory.removeprefix("hour=")
            for name in sorted(_names(base / directory)):
                if not listed(hour, name):
                    continue
                try:
                    found.append(LogFile(hour, name, os.stat(base / directory / name).st_size))
                except OSError:  # removed by retention while listed
                    continue
        return found

    def open(self, model: str, version: int, file: LogFile) -> Any:
        """The path of a file ``list`` gave (also one a writer did not make, for the
        reader to count: names from elsewhere are checked before they get here)."""
        return self.directory(model, version, file.hour) / file.name

    def put(self, model: str, version: int, path: Path, incarnation: str | None = None
            ) -> None:
        _, _, file = file_of(path)
        target = self.directory(model, version, file.hour) / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)

    def remove(self, model: str, version: int) -> int:
        """Delete every file of ``model:version``; how many went."""
        base = version_dir(self.root, model, version)
        removed = sum(1 for _ in base.glob(f"hour=*/{PREFIX}*.parquet"))
        shutil.rmtree(base, ignore_errors=True)
        return removed

    def versions(self, model: str) -> tuple[int, ...]:
        found = (version_number(d.name) for d in (self.root / f"model={model}").glob("version=*"))
        return tuple(sorted(n for n in found if n is not None))

    def models(self) -> tuple[str, ...]:
        found = (model_name(d.name) for d in self.root.glob("model=*") if d.is_dir())
        return tuple(sorted(n for n in found if n is not None))

    def remove_older(self, before: float) -> int:
        """Delete every hour that ended before ``before`` (epoch seconds); how many went."""
        removed = 0
        for directory in self.root.glob("model=*/version=*/hour=*"):
            if ended(directory.name, before):
                shutil.rmtree(directory, ignore_errors=True)
                removed += 1
        return removed

    def locate(self, model: str, version: int, hour: str, name: str) -> Located | None:
        """Where a kept file is, for a server to send it (None: not kept here)."""
        path = self.directory(model, version, hour) / name
        return Located(str(path)) if path.is_file() else None

    def receiver(self, model: str, version: int, hour: str, name: str) -> Receiver:
        """Where ``core.upload.Upload`` puts a received file once whole and checked."""
        check_file(model, version, hour, name)
        return Receiver(self.staging, self.directory(model, version, hour) / name)


def _names(directory: Path) -> list[str]:
    """The names in ``directory``: none when it is missing or unreadable (a version never
    logged, an hour removed by retention meanwhile)."""
    try:
        with os.scandir(directory) as entries:
            return [entry.name for entry in entries]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


@dataclass
class Receiver:
    """An upload's destination: ``Upload`` writes to ``staging`` and, once the digest
    matched, calls ``put_file`` — which moves it into place by one rename (a reader never
    sees half a file). The same file sent twice (a retry whose answer was lost) is kept
    once; other bytes under a kept name are refused."""

    staging: Path
    target: Path

    def put_file(self, path: Path, digest: str) -> None:
        try:
            if self.target.exists():
                check_same(self.target.name, file_sha256(self.target), digest)
                return
            self.target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, self.target)
        finally:
            path.unlink(missing_ok=True)

    def take_back(self) -> None:
        """Remove the file ``put_file`` kept (gone already: nothing to do)."""
        self.target.unlink(missing_ok=True)


def check_same(name: str, kept: str, digest: str) -> None:
    """A file sent under a name already kept: fine with the same bytes (a retry whose
    answer was lost), ``ConflictError`` with others — a file is never replaced."""
    if kept != digest:
        raise ConflictError(f"{name} is already kept with other content — a file is "
                            "never replaced")


def sha256_of(fh: IO[bytes]) -> str:
    """The SHA-256 of what ``fh`` holds, read in pieces (closed at the end)."""
    from modelport.core.artifacts import read_pieces

    digest = hashlib.sha256()
    for piece in read_pieces(fh):
        digest.update(piece)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return sha256_of(path.open("rb"))


def is_directory(url: str) -> bool:
    """Whether an artifact store's URL is a directory here (``file://`` or a path), where
    writers put their log files in place; anywhere else they spool and upload."""
    return "://" not in url or url.startswith("file://")
