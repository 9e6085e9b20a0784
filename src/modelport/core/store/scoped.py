"""The store as one project sees it: ``ScopedStore`` and the repositories it builds.

Each method first asks whose object it touches. Another project's object gets
exactly the answer a missing one gets — the same ``None``, empty list or
``NotFoundError`` — so a caller cannot tell "in another project" from "absent";
only creating an object under a name another project holds is refused, as a
name taken (names are unique across the store).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from modelport.core.store.endpoints import EndpointRecord, Event, Rollout, Watch
from modelport.core.store.jobs import JobRecord
from modelport.core.store.projects import (
    DEFAULT_PROJECT,
    UPLOADS,
    Owners,
    check_project,
    name_taken,
)
from modelport.core.store.registry import (
    Model,
    NewVersion,
    Registration,
    VersionRecord,
    missing_model,
)
from modelport.core.store.runs import (
    Condition,
    MetricValue,
    RunPage,
    RunRecord,
    Term,
    taken_run,
)
from modelport.core.store.stats import StatsRow
from modelport.core.store.streams import StreamRecord
from modelport.core.store.text import unstorable
from modelport.errors import ConflictError, InvalidInputError, NotFoundError

MAX_JOBS_READ = 100_000  # how far back a project's job listing looks past other projects'


def _sendable(*values: Any) -> None:
    """Refuse what no store could keep before asking whose object it is: a bad value is
    the caller's mistake (400) whether the object exists or not, as on the bare store."""
    if unstorable(list(values), "value"):
        raise InvalidInputError("the store refused a value: text it cannot keep or an "
                                "integer past 64 bits")


def _checked(call: Callable[..., Any], check: Callable[[str], None]) -> Callable[..., Any]:
    """``call`` refusing values no store keeps, then an object (its first argument) this
    project does not see, before it runs."""

    def checked(key: str, *args: Any, **kwargs: Any) -> Any:
        _sendable(*args, *kwargs.values())
        check(key)
        return call(key, *args, **kwargs)

    return checked


def _ours_only(call: Callable[..., Any], scope: ScopedStore, kind: str) -> Callable[..., None]:
    """``call`` changing an object of ``kind`` (its first argument) of this project or a
    missing one; another project's is left as a missing one is: unchanged, no error."""

    def checked(key: str, *args: Any, **kwargs: Any) -> None:
        if not scope.foreign(kind, key):
            call(key, *args, **kwargs)

    return checked


class ScopedRegistry:
    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def _check(self, name: str) -> None:
        if not self.scope.mine("models", name):
            raise missing_model(name)

    def create_version(self, name: str, version: NewVersion, tags: Mapping[str, str],
                       now: float, number: int | None = None) -> int:
        owner = self.scope.owners.of("models", name)
        if owner is not None and owner != self.scope.project:
            raise name_taken("model", name)
        return self.inner.create_version(  # type: ignore[no-any-return]
            name, version, tags, now, number, project=self.scope.project)

    def create_versions(self, batch: Sequence[Registration], now: float) -> list[int]:
        """The store refuses, in the batch's one transaction, a model of another project
        (asking first would cost a query per name)."""
        return self.inner.create_versions(  # type: ignore[no-any-return]
            batch, now, project=self.scope.project)

    def referenced_digests(self, digests: Collection[str]) -> set[str]:
        # every project's references keep bytes alive: the artifact store is shared
        return self.inner.referenced_digests(digests)  # type: ignore[no-any-return]

    def has_model(self, name: str) -> bool:
        return self.scope.mine("models", name)

    def pick_version(self, name: str, aliases: Sequence[str], latest: bool) -> int | None:
        if not self.scope.mine("models", name):
            return None
        return self.inner.pick_version(name, aliases, latest)  # type: ignore[no-any-return]

    def get_version(self, name: str, version: int) -> VersionRecord:
        _sendable(version)
        self._check(name)
        return self.inner.get_version(name, version)  # type: ignore[no-any-return]

    def list_versions(self, name: str) -> list[VersionRecord]:
        self._check(name)
        return self.inner.list_versions(name)  # type: ignore[no-any-return]

    def list_models(self) -> list[Model]:
        names = self.scope.names_in("models")
        return [m for m in self.inner.list_models() if m.name in names and self.scope.sees(m.name)]

    def find_tag(self, key: str) -> tuple[str, int, str] | None:
        """As the store's, for tags that name one thing (a bundle's digest): a key tagged in
        two projects may be found in the other one, and then reads as absent here."""
        found = self.inner.find_tag(key)
        return found if found is not None and self.scope.mine("models", found[0]) else None

    def delete_model(self, name: str) -> None:
        self._check(name)
        self.inner.delete_model(name)
        self.scope.owners.forget("models", name)

    def __getattr__(self, method: str) -> Any:
        """The rest take the model's name first: set_alias, delete_alias, set_tag,
        set_description, set_onnx, set_profile, delete_version."""
        return _checked(getattr(self.inner, method), self._check)


class ScopedRuns:
    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def _check(self, run_id: str) -> None:
        if not self.scope.mine("runs", run_id):
            raise NotFoundError(f"run {run_id!r} not found")

    def create_run(self, run: RunRecord) -> None:
        if self.scope.foreign("runs", run.id):
            raise taken_run(run.id)
        self.inner.create_run(dataclasses.replace(run, project=self.scope.project))

    def log_run(self, run: RunRecord, metrics: Sequence[MetricValue], now: float) -> None:
        # the store refuses another project's run itself, in the statement that writes it:
        # asking first cost a query per new run (an unknown id is never cached)
        self.inner.log_run(dataclasses.replace(run, project=self.scope.project), metrics, now)

    def get_runs(self, ids: Collection[str]) -> list[RunRecord]:
        return [r for r in self.inner.get_runs(ids) if r.project == self.scope.project]

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        found: list[str] = self.inner.ids_starting_with(prefix, limit)
        return [i for i in found if self.scope.mine("runs", i)]

    def search(self, conditions: Sequence[Condition], ordering: Sequence[tuple[Term, bool]],
               experiment: str | None, max_results: int | None, page_token: str | None
               ) -> RunPage:
        mine = Condition(Term("attributes", "project"), "=", self.scope.project)
        return self.inner.search(  # type: ignore[no-any-return]
            [*conditions, mine], ordering, experiment, max_results, page_token)

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        if self.scope.foreign("runs", run_id):
            return []
        return self.inner.metric_history(run_id, key)  # type: ignore[no-any-return]

    def delete_run(self, run_id: str) -> None:
        self._check(run_id)
        self.inner.delete_run(run_id)
        self.scope.owners.forget("runs", run_id)

    def __getattr__(self, method: str) -> Any:
        """The rest take the run's id first: log_batch, log_artifact, log_dataset, end_run."""
        return _checked(getattr(self.inner, method), self._check)


class ScopedEndpoints:
    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def _missing(self, name: str) -> NotFoundError:
        return NotFoundError(f"endpoint {name!r} not found — list them with: "
                             "modelport endpoints list")

    def _check(self, name: str) -> None:
        if not self.scope.mine("endpoints", name):
            raise self._missing(name)

    def watch(self) -> Watch:
        """Every project's changes wake it: what the watcher then reads is scoped."""
        return self.inner.watch()  # type: ignore[no-any-return]

    def create_endpoint(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        if self.scope.foreign("endpoints", name):
            raise name_taken("endpoint", name)
        return self.inner.create_endpoint(  # type: ignore[no-any-return]
            name, policy, now, project=self.scope.project)

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        if self.scope.foreign("endpoints", name):
            return None
        return self.inner.get_endpoint(name)  # type: ignore[no-any-return]

    def list_endpoints(self) -> list[EndpointRecord]:
        names = self.scope.names_in("endpoints")
        return [e for e in self.inner.list_endpoints() if e["name"] in names]

    def endpoint_revisions(self) -> dict[str, tuple[float, int]]:
        names = self.scope.names_in("endpoints")
        return {n: r for n, r in self.inner.endpoint_revisions().items() if n in names}

    def set_policy(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        self._check(name)
        return self.inner.set_policy(name, policy, now)  # type: ignore[no-any-return]

    def delete_endpoint(self, name: str) -> None:
        self._check(name)
        self.inner.delete_endpoint(name)
        self.scope.owners.forget("endpoints", name)

    def start_rollout(self, rollout: Rollout, policy: dict[str, Any], event: Event) -> None:
        self._check(rollout.endpoint)
        self.inner.start_rollout(rollout, policy, event)

    def transition(self, rollout: Rollout, moved: Rollout, policy: dict[str, Any] | None,
                   event: Event) -> None:
        self._check(rollout.endpoint)
        self.inner.transition(rollout, moved, policy, event)

    def active_rollout(self, endpoint: str) -> Rollout | None:
        if self.scope.foreign("endpoints", endpoint):
            return None
        return self.inner.active_rollout(endpoint)  # type: ignore[no-any-return]

    def latest_rollout(self, endpoint: str) -> Rollout | None:
        if self.scope.foreign("endpoints", endpoint):
            return None
        return self.inner.latest_rollout(endpoint)  # type: ignore[no-any-return]

    def active_rollouts(self) -> list[Rollout]:
        names = self.scope.names_in("endpoints")
        return [r for r in self.inner.active_rollouts() if r.endpoint in names]

    def rollout_history(self, endpoint: str) -> list[tuple[Rollout, list[Event]]]:
        if self.scope.foreign("endpoints", endpoint):
            return []
        return self.inner.rollout_history(endpoint)  # type: ignore[no-any-return]


class ScopedJobs:
    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def _visible(self, jobs: list[JobRecord]) -> list[JobRecord]:
        return [j for j in jobs if j.get("project", "default") == self.scope.project]

    def create_job(self, job: JobRecord) -> None:
        if self.scope.foreign("jobs", job["id"]):
            raise ConflictError(f"job {job['id']!r} already exists")
        self.inner.create_job({**job, "project": self.scope.project})

    def get_job(self, job_id: str) -> JobRecord | None:
        found = self.inner.get_job(job_id)
        return found if found is not None and self._visible([found]) else None

    def find_jobs(self, prefix: str, limit: int) -> list[JobRecord]:
        return self._visible(self.inner.find_jobs(prefix, limit))

    def list_jobs(self, limit: int, status: str | None, kind: str | None, model: str | None
                  ) -> list[JobRecord]:
        """The project's newest ``limit``: asks for more while other projects' newer jobs
        crowd them out (a page of the whole store holds fewer of this project's)."""
        asked = limit
        while True:
            found = self.inner.list_jobs(asked, status, kind, model)
            mine = self._visible(found)
            if len(mine) >= limit or len(found) < asked or asked >= MAX_JOBS_READ:
                return mine[:limit]
            asked = min(asked * 4, MAX_JOBS_READ)

    def __getattr__(self, method: str) -> Any:
        """The rest change one job by id (restart_job, set_progress, finish_job); another
        project's job changes as a missing one does: not at all."""
        return _ours_only(getattr(self.inner, method), self.scope, "jobs")


class ScopedStats:
    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def write_windows(self, rows: Sequence[StatsRow], worker: str, forget_before: float
                      ) -> None:
        ours = [r for r in rows if not self.scope.foreign("endpoints", r["endpoint"])]
        self.inner.write_windows(ours, worker, forget_before)

    def read_windows(self, endpoint: str, since: float) -> list[StatsRow]:
        if self.scope.foreign("endpoints", endpoint):
            return []
        return self.inner.read_windows(endpoint, since)  # type: ignore[no-any-return]


class ScopedStreams:
    """A stream is its name: every consumer of it is in the project that started it first."""

    def __init__(self, inner: Any, scope: ScopedStore) -> None:
        self.inner, self.scope = inner, scope

    def start_stream(self, name: str, consumer: str, model: str, config: dict[str, Any],
                     now: float) -> None:
        if self.scope.foreign("streams", name):
            raise name_taken("stream", name)
        self.inner.start_stream(name, consumer, model, config, now, project=self.scope.project)

    def get_stream(self, name: str, consumer: str) -> StreamRecord | None:
        found = self.inner.get_stream(name, consumer)
        return found if found is not None and found.project == self.scope.project else None

    def list_streams(self, name: str | None) -> list[StreamRecord]:
        return [s for s in self.inner.list_streams(name) if s.project == self.scope.project]

    def __getattr__(self, method: str) -> Any:
        """The rest report on one consumer by the stream's name (heartbeat,
        save_checkpoint); another project's stream changes as a missing one does: not at
        all."""
        return _ours_only(getattr(self.inner, method), self.scope, "streams")


class ScopedStore:
    """``store`` as project ``project`` sees it (see the module's docstring); ``models``
    narrows the registry further, for a key limited to those models."""

    def __init__(self, store: Any, project: str = DEFAULT_PROJECT,
                 owners: Owners | None = None, models: frozenset[str] | None = None) -> None:
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
