"""Projects: which project a run, model, endpoint, job or stream belongs to, and a store
seeing one.

Names stay unique across the whole store (a model ``iris`` is one model, in one
project), so nothing that refers to a model or an endpoint by name changes; a
project is a column on the five tables, ``default`` unless named. ``ScopedStore``
is the store as one project sees it: objects of other projects behave exactly as
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


class ScopedStore:
    """``store`` as project ``project`` sees it (see the module's docstring); ``models``
    narrows the registry further, for a key limited to those models."""

    def __init__(self, store: Any, project: str = DEFAULT_PROJECT,
                 owners: Owners | None = None, models: frozenset[str] | None = None) -> None:
        from modelport.core.store.scoped import (
            ScopedEndpoints,
            ScopedJobs,
            ScopedRegistry,
            ScopedRuns,
            ScopedStats,
            ScopedStreams,
        )

        self.inner = store
        self.project = check_project(project)
        self.owners = owners or Owners(store.projects)
        self.models = models
        self.registry = ScopedRegistry(store.registry, self)
        self.runs = ScopedRuns(store.runs, self)
        self.endpoints = ScopedEndpoints(store.endpoints, self)
        self.jobs = ScopedJobs(store.jobs, self)
        self.stats = ScopedStats(store.stats, self)
        self.streams = ScopedStreams(store.streams, self)

    def in_project(self, project: str) -> ScopedStore:
        """The same store as ``project`` sees it."""
        return ScopedStore(self.inner, project, self.owners, self.models)

    def __getattr__(self, name: str) -> Any:
        """What projects do not divide (keys, devices, the audit log, the database)."""
        return getattr(self.inner, name)

    def mine(self, kind: str, key: str) -> bool:
        """Whether ``key`` is an object of this project (and, for a model, one in view)."""
        if kind == "models" and not self.sees(key):
            return False
        return self.owners.of(kind, key) == self.project

    def sees(self, model: str) -> bool:
        """Whether ``model`` is one of the models in view (all without a limit)."""
        return self.models is None or model in self.models

    def foreign(self, kind: str, key: str) -> bool:
        """Whether ``key`` exists in another project: to this one it must look absent."""
        owner = self.owners.of(kind, key)
        return owner is not None and owner != self.project

    def sees_artifact(self, digest: str) -> bool:
        """Whether this project may read blob ``digest``: one of its runs, model versions
        (a model in view) or stream checkpoints names it, or it uploaded it (a blob is
        content, so two projects may own the same one). An upload counts for a key limited
        to some models only while no other model of the project names the blob. Anything
        else — another project's upload, a blob nothing records — is no one's: knowing a
        digest reads nothing."""
        mine = {(kind, key) for kind, key, project in self.inner.projects.artifact_owners(digest)
                if project == self.project}
        hidden = any(kind == "models" and not self.sees(key) for kind, key in mine)
        return any(self.sees(key) if kind == "models" else not (kind == UPLOADS and hidden)
                   for kind, key in mine)

    def uploaded(self, digest: str) -> None:
        """Record that this project uploaded blob ``digest``: it may read it from now on."""
        self.inner.projects.uploaded(digest, self.project)

    def names_in(self, kind: str) -> set[str]:
        """The ids or names of this project's objects of ``kind``."""
        return self.inner.projects.keys_in(kind, self.project)  # type: ignore[no-any-return]
