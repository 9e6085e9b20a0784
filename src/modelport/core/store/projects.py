"""Projects: which project a run, model, endpoint, job or stream belongs to.

Names stay unique across the whole store (a model ``iris`` is one model, in one
project), so nothing that refers to a model or an endpoint by name changes; a
project is a column on the five tables, ``default`` unless named. ``ScopedStore``
(``scoped.py``) is the store as one project sees it: objects of other projects behave exactly as
absent ones (the same ``None``, the same 404), listings leave them out and new
objects join the project. The SQL store is wrapped on open; the team server wraps
its store per request with the project the request names, so a REST client sends
only the project's name and the server decides what it sees.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from modelport.errors import ConflictError, InvalidInputError

DEFAULT_PROJECT = "default"
UPLOADS = "uploads"  # the kind of an artifact owner that uploaded the blob (its key: the project)
KINDS = ("runs", "models", "endpoints", "jobs", "streams")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_project(name: str) -> str:
    """``name`` if it can name a project (it travels in a header and a CLI flag)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInputError(f"invalid project name {name!r} — use 1 to 100 letters, "
                                "digits, '.', '_' or '-', starting with a letter or digit")
    return name


def name_taken(kind: str, name: str) -> ConflictError:
    """The error for creating a ``kind`` under a name another project holds."""
    return ConflictError(f"the {kind} name {name!r} is taken (names are unique across "
                         "projects) — choose another name")


@dataclass(frozen=True)
class ProjectSummary:
    """One project and how many objects of each kind it holds."""

    name: str
    runs: int = 0
    models: int = 0
    endpoints: int = 0
    jobs: int = 0
    streams: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ProjectListing(Protocol):
    """The projects a store's caller may know of: what every implementation (SQL, REST)
    answers. Thread-safe."""

    def list_projects(self) -> list[ProjectSummary]:
        """The projects, by name, each with how many objects of each kind it holds."""
        ...


class ProjectsRepository(ProjectListing, Protocol):
    """Which project each run (by id), model, endpoint, stream (by name) and job (by id) is
    in —
    what ``ScopedStore`` divides a SQL store by. Thread-safe; every method is one
    transaction."""

    def project_of(self, kind: str, key: str) -> str | None:
        """The project of one object; None if there is no such object."""
        ...

    def keys_in(self, kind: str, project: str) -> set[str]:
        """The ids or names of every object of ``kind`` in ``project``."""
        ...

    def artifact_owners(self, digest: str) -> set[tuple[str, str, str]]:
        """(kind, key, project) of every run, model and stream whose records name blob
        ``digest``, and (``UPLOADS``, project, project) of every project that uploaded it
        through the server. Served by an index on the digest."""
        ...

    def uploaded(self, digest: str, project: str) -> None:
        """Record that ``project`` uploaded blob ``digest``."""
        ...

    def list_projects(self) -> list[ProjectSummary]:
        """Every project some object is in, and ``default`` (where a workspace starts), by
        name, with its objects counted."""
        ...


class Owners:
    """Who owns what, cached for ``ttl`` seconds: a store call costs no extra query when
    the same object was looked at a moment ago (a run logs metrics in a loop). Only
    found owners are kept; an object created meanwhile is seen at once."""

    def __init__(self, projects: ProjectsRepository, ttl: float = 2.0) -> None:
        self.projects = projects
        self.ttl = ttl
        self._seen: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def of(self, kind: str, key: str) -> str | None:
        now = time.monotonic()
        hit = self._seen.get((kind, key))
        if hit is not None and hit[1] > now:
            return hit[0]
        project = self.projects.project_of(kind, key)
        if project is not None:
            with self._lock:
                if len(self._seen) > 100_000:
                    self._seen.clear()
                self._seen[(kind, key)] = (project, now + self.ttl)
        return project

    def forget(self, kind: str, key: str) -> None:
        with self._lock:
            self._seen.pop((kind, key), None)
