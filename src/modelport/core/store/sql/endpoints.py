"""Endpoints and rollouts on SQL: a transition is one transaction, guarded by revision."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from modelport.core.store import schema as t
from modelport.core.store.endpoints import (
    ACTIVE,
    EndpointRecord,
    Event,
    PollingWatch,
    Rollout,
    Watch,
)
from modelport.core.store.engine import Database
from modelport.core.store.projects import DEFAULT_PROJECT
from modelport.errors import ConflictError, NotFoundError

_ROLLOUT_FIELDS = tuple(Rollout.__dataclass_fields__)


class SqlEndpoints:
    def __init__(self, db: Database) -> None:
        self.db = db

    def watch(self) -> Watch:
        """A database pushes nothing: a watch polls the revisions (one cheap query)."""
        return PollingWatch(self)

    def create_endpoint(self, name: str, policy: dict[str, Any], now: float,
                        project: str = DEFAULT_PROJECT) -> EndpointRecord:
        """``project``: the one the endpoint is written in (``ScopedEndpoints`` names it,
        so no other project sees it even for an instant)."""
        record = EndpointRecord(name=name, policy=policy, revision=1, created=now, updated=now)
        try:
            with self.db.write() as conn:
                conn.execute(t.endpoints.insert().values(**record, project=project))
        except IntegrityError:  # the name is taken (also by a writer racing this one)
            raise ConflictError(f"endpoint {name!r} already exists — change it with a rollout "
                                f"or delete it first: modelport endpoints delete {name}"
                                ) from None
        return record

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        with self.db.read() as conn:
            return _endpoint(conn, name)

    def list_endpoints(self) -> list[EndpointRecord]:
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(select(t.endpoints)
                                                     .order_by(t.endpoints.c.name)).mappings()]

    def endpoint_revisions(self) -> dict[str, tuple[float, int]]:
        e = t.endpoints
        with self.db.read() as conn:
            rows = conn.execute(select(e.c.name, e.c.created, e.c.revision))
            return {name: (created, revision) for name, created, revision in rows}

    def set_policy(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        with self.db.write() as conn:
            return _set_policy(conn, name, policy, now)

    def delete_endpoint(self, name: str) -> None:
        with self.db.write() as conn:  # rollouts and their events go by ON DELETE CASCADE
            if not conn.execute(t.endpoints.delete().where(t.endpoints.c.name == name)).rowcount:
                raise NotFoundError(f"endpoint {name!r} not found")
            conn.execute(t.endpoint_stats.delete().where(t.endpoint_stats.c.endpoint == name))

    def start_rollout(self, rollout: Rollout, policy: dict[str, Any], event: Event) -> None:
        r, e = t.rollouts, t.endpoints
        with self.db.write() as conn:
            # the endpoint's row, locked: a second controller starting a rollout waits here
            # and then sees the first one's (SQLite's write lock already serialises them)
            if conn.execute(select(e.c.name).where(e.c.name == rollout.endpoint)
                            .with_for_update()).first() is None:
                raise NotFoundError(f"endpoint {rollout.endpoint!r} not found")
            if conn.execute(select(r.c.id).where(r.c.endpoint == rollout.endpoint,
                                                 r.c.state.in_(ACTIVE))).first():
                raise ConflictError(f"endpoint {rollout.endpoint!r} already has a rollout in "
                                    f"progress — see modelport rollout status {rollout.endpoint}")
            conn.execute(r.insert().values(**rollout.to_dict()))
            _set_policy(conn, rollout.endpoint, policy, event.at)
            _log(conn, rollout.id, event)

    def transition(self, rollout: Rollout, moved: Rollout, policy: dict[str, Any] | None,
                   event: Event) -> None:
        r = t.rollouts
        with self.db.write() as conn:
            done = conn.execute(update(r).where(r.c.id == rollout.id,
                                                r.c.revision == rollout.revision)
                                .values(**moved.to_dict())).rowcount
            if not done:
                raise ConflictError(f"rollout of {rollout.endpoint} changed meanwhile — read it "
                                    "again")
            if policy is not None:
                _set_policy(conn, rollout.endpoint, policy, event.at)
            _log(conn, rollout.id, event)

    def active_rollout(self, endpoint: str) -> Rollout | None:
        found = self._rollouts(select(t.rollouts).where(t.rollouts.c.endpoint == endpoint,
                                                        t.rollouts.c.state.in_(ACTIVE)))
        return found[0] if found else None

    def latest_rollout(self, endpoint: str) -> Rollout | None:
        found = self._rollouts(select(t.rollouts).where(t.rollouts.c.endpoint == endpoint)
                               .order_by(t.rollouts.c.created.desc()).limit(1))
        return found[0] if found else None

    def active_rollouts(self) -> list[Rollout]:
        return self._rollouts(select(t.rollouts).where(t.rollouts.c.state.in_(ACTIVE)))

    def rollout_history(self, endpoint: str) -> list[tuple[Rollout, list[Event]]]:
        r, ev = t.rollouts, t.rollout_events
        with self.db.read() as conn:
            rollouts = [_rollout(row) for row in conn.execute(
                select(r).where(r.c.endpoint == endpoint).order_by(r.c.created)).mappings()]
            events: dict[str, list[Event]] = {x.id: [] for x in rollouts}
            for row in conn.execute(select(ev).where(ev.c.rollout_id.in_(list(events)))
                                    .order_by(ev.c.id)).mappings():
                events[row["rollout_id"]].append(Event(row["at"], row["action"], row["state"],
                                                       row["reason"], row["metrics"]))
        return [(x, events[x.id]) for x in rollouts]

    def _rollouts(self, query: Any) -> list[Rollout]:
        with self.db.read() as conn:
            return [_rollout(row) for row in conn.execute(query).mappings()]


def _record(row: Any) -> EndpointRecord:
    return EndpointRecord(name=row["name"], policy=row["policy"], revision=row["revision"],
                          created=row["created"], updated=row["updated"])


def _endpoint(conn: Connection, name: str) -> EndpointRecord | None:
    row = conn.execute(select(t.endpoints).where(t.endpoints.c.name == name)).mappings().first()
    return _record(row) if row else None


def _set_policy(conn: Connection, name: str, policy: dict[str, Any], now: float
                ) -> EndpointRecord:
    e = t.endpoints
    if not conn.execute(update(e).where(e.c.name == name).values(
            policy=policy, revision=e.c.revision + 1, updated=now)).rowcount:
        raise NotFoundError(f"endpoint {name!r} not found")
    record = _endpoint(conn, name)
    assert record is not None
    return record


def _log(conn: Connection, rollout_id: str, event: Event) -> None:
    conn.execute(t.rollout_events.insert().values(rollout_id=rollout_id, **event.to_dict()))


def _rollout(row: Any) -> Rollout:
    return Rollout(**{c: row[c] for c in _ROLLOUT_FIELDS})
