"""Which project each object is in, on SQL: the ``project`` column of five tables.

A stream is its name: all its consumers' rows are in its project."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    String,
    Table,
    and_,
    delete,
    distinct,
    func,
    literal,
    or_,
    select,
    true,
    union,
    union_all,
)

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.projects import DEFAULT_PROJECT, UPLOADS, ProjectSummary
from modelport.core.store.registry import BLOB_TAG
from modelport.core.store.sql.upsert import dialect_insert, upsert
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
        """(kind, key, project) of every model, run and stream whose records name blob
        ``digest``, and (``UPLOADS``, project, project) of every project that uploaded it:
        rows of ``blob_owners``, found by its key."""
        b = t.blob_owners
        with self.db.read() as conn:
            return {(kind, key, project) for kind, key, project in conn.execute(
                select(b.c.kind, b.c.key, b.c.project).where(b.c.digest == digest))}

    def uploaded(self, digest: str, project: str) -> None:
        """Record that ``project`` uploaded blob ``digest`` (again: nothing changes)."""
        with self.db.write() as conn:
            _own(conn, digest, UPLOADS, project, literal(project, String), true())


_DIGEST = re.compile("[0-9a-f]{64}")  # what names a blob; nothing else is one
_CHUNK = 500  # digests per statement


def _own(conn: Connection, digest: str, kind: str, key: str, project: Any, where: Any) -> None:
    """One ``blob_owners`` row, its ``project`` read from the first row ``where`` finds (no
    row: none written). Always a ``WHERE``: SQLite reads ``INSERT … SELECT … ON CONFLICT``
    unambiguously only with one."""
    b = t.blob_owners
    row = select(literal(digest, String), literal(kind, String), literal(key, String),
                 project).where(where).limit(1)
    insert = dialect_insert(conn, b).from_select(["digest", "kind", "key", "project"], row)
    conn.execute(insert.on_conflict_do_update(
        index_elements=["digest", "kind", "key"], set_={"project": insert.excluded.project}))


def name_blobs(conn: Connection, kind: str, key: str, digests: Iterable[str | None]) -> None:
    """Record that object ``key`` of ``kind`` names these blobs, in its project (read from
    its row, in the transaction writing the record that names them): what
    ``artifact_owners`` finds."""
    table, column = _table(kind)
    for digest in _blobs(digests):
        _own(conn, digest, kind, key, table.c.project, column == key)


def name_blobs_in(conn: Connection, kind: str, project: str,
                  named: Iterable[tuple[str, Iterable[str | None]]]) -> None:
    """``name_blobs`` for many objects of ``project`` at once ((key, digests) pairs), in
    one statement: the caller wrote their rows in ``project`` in this transaction. Rows go
    in primary key order, so two such writers lock them in the same order."""
    rows = sorted({(digest, key) for key, digests in named for digest in _blobs(digests)})
    upsert(conn, t.blob_owners, [{"digest": d, "kind": kind, "key": key, "project": project}
                                 for d, key in rows], update=["project"])


def _blobs(digests: Iterable[str | None]) -> list[str]:
    """Those of ``digests`` that name a blob, once each, sorted."""
    return sorted({d for d in digests if isinstance(d, str) and _DIGEST.fullmatch(d)})


def forget_blobs(conn: Connection, kind: str, key: str) -> None:
    """An object is deleted: the blobs it named are no longer its."""
    b = t.blob_owners
    conn.execute(delete(b).where(b.c.kind == kind, b.c.key == key))


def still_named(conn: Connection, digests: Iterable[str]) -> set[str]:
    """Those of ``digests`` some record names now — what GC must keep, in any project.

    ``blob_owners`` finds the candidates by digest (its key: no scan of every version's
    JSON, every run's artifacts, every stream's checkpoint); each row is then confirmed
    against the record it names, since a row outlives what it recorded on purpose (a
    deleted version's rows stay, so a project keeps reading the blobs its other versions
    may share) or by moving on (a stream's next checkpoint, a run artifact logged again
    under its path, an ONNX copy replaced). An upload names nothing: its row lets a
    project read a blob, it does not keep one."""
    wanted = _blobs(digests)
    if not wanted:
        return set()
    b, v, g, a, s = t.blob_owners, t.model_versions, t.model_tags, t.run_artifacts, t.streams
    versions = or_(*(column == b.c.digest for column in (
        v.c.artifact_digest, v.c.sample_digest, v.c.profile_digest,
        v.c.onnx["digest"].as_string(), v.c.signature[("text", "tokenizer")].as_string())))
    checkpoints = or_(*(s.c.checkpoint[part].as_string() == b.c.digest
                        for part in ("model", "window")))
    confirmed = [
        ("models", v, and_(v.c.name == b.c.key, versions)),
        ("models", g, and_(g.c.name == b.c.key, g.c.key == literal(BLOB_TAG) + b.c.digest)),
        ("runs", a, and_(a.c.run_id == b.c.key, a.c.digest == b.c.digest)),
        ("streams", s, and_(s.c.name == b.c.key, checkpoints))]
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        query = union(*(select(b.c.digest).select_from(b.join(table, on)).where(
            b.c.digest.in_(chunk), b.c.kind == kind) for kind, table, on in confirmed))
        found.update(conn.execute(query).scalars())
    return found


def version_blobs(version: Mapping[str, Any]) -> list[str | None]:
    """The blobs a model version's record names: its artifact, sample, profile, ONNX copy
    and tokenizer."""
    text = (version.get("signature") or {}).get("text")
    onnx = version.get("onnx")
    return [version.get("artifact_digest"), version.get("sample_digest"),
            version.get("profile_digest"),
            onnx.get("digest") if isinstance(onnx, dict) else None,
            text.get("tokenizer") if isinstance(text, dict) else None]
