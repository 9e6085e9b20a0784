"""Which project each object is in, on SQL: the ``project`` column of four tables."""

from __future__ import annotations

from sqlalchemy import Column, Table, func, literal, select, union_all, update

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
            return conn.execute(select(table.c.project).where(column == key)).scalar()

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
            select(literal(kind).label("kind"), table.c.project, func.count().label("n"))
            .group_by(table.c.project) for kind, (table, _) in _TABLES.items()))
        counts: dict[str, dict[str, int]] = {DEFAULT_PROJECT: {}}
        with self.db.read() as conn:
            for kind, project, n in conn.execute(query):
                counts.setdefault(project, {})[kind] = n
        return [ProjectSummary(name, **counts[name]) for name in sorted(counts)]
