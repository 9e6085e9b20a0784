"""What changed in the store since the last look: endpoints, rollouts and jobs.

The team server reads the store once per interval for everyone (three cheap
queries) instead of every serving replica and dashboard polling the database
itself. ``Watcher.poll`` compares what it reads with what it read last and
returns one ``(kind, data)`` change per endpoint, rollout or job that moved —
including the last state of whatever left the active set (a rollout that
finished, a job that ended, an endpoint that was deleted).
"""

from __future__ import annotations

from typing import Any

from modelport.core.store.base import Store

RUNNING_JOBS = 500  # jobs followed at once; older running jobs are reported as they end

Change = tuple[str, dict[str, Any]]


class Watcher:
    """Remembers the last state seen; not thread-safe (one poller calls it)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.endpoints: dict[str, tuple[float, int]] = {}
        self.rollouts: dict[str, tuple[str, int]] = {}  # id -> (endpoint, revision)
        self.jobs: dict[str, tuple[int, int, int]] = {}  # id -> (rows, failed, parts)
        self.primed = False

    def poll(self) -> list[Change]:
        """The changes since the last call (none on the first: that one only looks)."""
        changes = self._endpoints() + self._rollouts() + self._jobs()
        first, self.primed = not self.primed, True
        return [] if first else changes

    def _endpoints(self) -> list[Change]:
        repo = self.store.endpoints
        seen = repo.endpoint_revisions()
        changes: list[Change] = []
        for name, mark in seen.items():
            if self.endpoints.get(name) != mark and self.primed:
                record = repo.get_endpoint(name)
                if record is not None:
                    changes.append(("endpoint", dict(record)))
        changes += [("endpoint", {"name": name, "deleted": True})
                    for name in self.endpoints.keys() - seen.keys()]
        self.endpoints = seen
        return changes

    def _rollouts(self) -> list[Change]:
        repo = self.store.endpoints
        active = {r.id: r for r in repo.active_rollouts()}
        changes: list[Change] = [("rollout", r.to_dict()) for r in active.values()
                                 if self.rollouts.get(r.id) != (r.endpoint, r.revision)]
        for gone in self.rollouts.keys() - active.keys():
            latest = repo.latest_rollout(self.rollouts[gone][0])
            if latest is not None and latest.id == gone:
                changes.append(("rollout", latest.to_dict()))
        self.rollouts = {r.id: (r.endpoint, r.revision) for r in active.values()}
        return changes

    def _jobs(self) -> list[Change]:
        repo = self.store.jobs
        running = {j["id"]: j for j in repo.list_jobs(RUNNING_JOBS, "running", None, None)}
        changes: list[Change] = [
            ("job", dict(j)) for j in running.values()
            if self.jobs.get(j["id"]) != (j["rows"], j["rows_failed"], j["parts"])]
        for gone in self.jobs.keys() - running.keys():
            job = repo.get_job(gone)
            if job is not None:
                changes.append(("job", dict(job)))
        self.jobs = {j["id"]: (j["rows"], j["rows_failed"], j["parts"])
                     for j in running.values()}
        return changes
