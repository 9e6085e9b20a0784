"""Which project each object is in, on SQL: the ``project`` column of five tables.

A stream is its name: all its consumers' rows are in its project."""

from __future__ import annotations

from sqlalchemy import Column, Table, distinct, func, literal, or_, select, union_all, update

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.projects import DEFAULT_PROJECT, ProjectSummary
from modelport.errors import InvalidInputError

# each kind's table and the column naming one of its objects
_TABLES: dict[str, tuple[Table, Column[str]]] = {
    "runs": (t.runs, t.runs.c.id),
    "models": (t.models, t.models.c.name),
    "endpoints": (t.endpoints, t.endpoints.c.name),
    "jobs": (t.jobs, t.jobs.c.id),
    "streams": (t.streams, t.streams.c.name),
}


def _table(kind: str) -> tuple[Table, Column[str]]:
    try:
        return _TABLES[kind]
    except KeyError:
        raise InvalidInputError(f"no kind of object {kind!r} belongs to a project") from None


class SqlProjects:
    def __init__(self, db: Database) -> None:
        self.db = db

    def project_of(self, kind: str, key: str) -> str | None:
        table, column = _table(kind)
        with self.db.read() as conn:
            return conn.execute(select(table.c.project).where(column == key).limit(1)).scalar()

    def assign(self, kind: str, key: str, project: str) -> None:
        table, column = _table(kind)
        with self.db.write() as conn:
            conn.execute(update(table).where(column == key).values(project=project))

    def keys_in(self, kind: str, project: str) -> set[str]:
        table, column = _table(kind)
        with self.db.read() as conn:
            return set(conn.execute(select(column).where(table.c.project == project)).scalars())

    def list_projects(self) -> list[ProjectSummary]:
        """One statement: each table's objects counted per project (served by its
        project index)."""
        query = union_all(*(
            select(literal(kind).label("kind"), table.c.project,
                   func.count(distinct(column)).label("n"))
            .group_by(table.c.project) for kind, (table, column) in _TABLES.items()))
        counts: dict[str, dict[str, int]] = {DEFAULT_PROJECT: {}}
        with self.db.read() as conn:
            for kind, project, n in conn.execute(query):
                counts.setdefault(project, {})[kind] = n
        return [ProjectSummary(name, **counts[name]) for name in sorted(counts)]

    def artifact_owners(self, digest: str) -> set[tuple[str, str, str]]:
        """(kind, key, project) of every model (by a version's artifact, sample, profile,
        ONNX copy or tokenizer), run (by a logged artifact) and stream (by its checkpoint)
        that refers to blob ``digest``. One statement; the JSON paths are read by the
        database (SQLite's json_extract, PostgreSQL's #>>)."""
        v, m, a, r, s = t.model_versions, t.models, t.run_artifacts, t.runs, t.streams
        query = union_all(
            select(literal("models"), m.c.name, m.c.project)
            .join(v, v.c.name == m.c.name)
            .where(or_(v.c.artifact_digest == digest, v.c.sample_digest == digest,
                       v.c.profile_digest == digest, v.c.onnx["digest"].as_string() == digest,
                       v.c.signature[("text", "tokenizer")].as_string() == digest)),
            select(literal("runs"), r.c.id, r.c.project)
            .join(a, a.c.run_id == r.c.id).where(a.c.digest == digest),
            select(literal("streams"), s.c.name, s.c.project)
            .where(or_(s.c.checkpoint["model"].as_string() == digest,
                       s.c.checkpoint["window"].as_string() == digest)))
        with self.db.read() as conn:
            return {(kind, key, project) for kind, key, project in conn.execute(query)}
