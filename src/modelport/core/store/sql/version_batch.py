"""Many new versions — numbers, rows, tags, blobs — in one transaction of four statements.

A training job that fits one model per store, customer or series registers
them together (``RegistryRepository.create_versions``): one commit instead of
one per version, which is what a durable registration costs. The models' rows
are created or counted up by one ``INSERT … ON CONFLICT DO UPDATE … RETURNING``
that adds each model's count of versions in the batch to its ``last_version``
(its row lock orders concurrent writers, single or batch, so no number is
shared); names go in sorted order, so two batches lock the same rows in the
same order and cannot deadlock. The versions, their tags and the blobs they
name follow as one multi-row statement each. The same statements serve SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from modelport.core.store import schema as t
from modelport.core.store.projects import name_taken
from modelport.core.store.registry import Registration
from modelport.core.store.sql.projects import name_blobs_in, version_blobs
from modelport.core.store.sql.upsert import dialect_insert

_COUNTS: dict[str, Any] = {}


def _count_up(conn: Connection) -> Any:
    """Add ``excluded.last_version`` to a model's counter, only in its own project."""
    stmt = _COUNTS.get(conn.dialect.name)
    if stmt is None:
        m = t.models
        insert = dialect_insert(conn, m)
        stmt = _COUNTS[conn.dialect.name] = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"last_version": m.c.last_version + insert.excluded.last_version,
                  "updated": insert.excluded.updated},
            where=m.c.project == insert.excluded.project,
        ).returning(m.c.name, m.c.last_version)
    return stmt


def register_batch(conn: Connection, batch: Sequence[Registration], now: float,
                   project: str) -> list[int]:
    """Write ``batch`` in ``conn``'s transaction; the numbers, in the batch's order. A
    model that is another project's raises a name taken (the caller's transaction then
    writes nothing)."""
    counts = Counter(entry.name for entry in batch)
    if not counts:
        return []
    models = [{"name": name, "description": "", "last_version": n, "created": now,
               "updated": now, "project": project} for name, n in sorted(counts.items())]
    last = {name: number for name, number in conn.execute(_count_up(conn), models)}
    for name in sorted(counts):
        if name not in last:  # another project's: its row was left as it was
            raise name_taken("model", name)
    following = {name: last[name] - counts[name] for name in counts}
    numbers = []
    for entry in batch:
        following[entry.name] += 1
        numbers.append(following[entry.name])
    conn.execute(t.model_versions.insert(), [
        {**entry.version, "profile_digest": entry.version.get("profile_digest"),
         "name": entry.name, "version": number, "onnx": None, "created": now}
        for entry, number in zip(batch, numbers, strict=True)])
    tags = [{"name": entry.name, "version": number, "key": key, "value": value}
            for entry, number in zip(batch, numbers, strict=True)
            for key, value in entry.tags.items()]
    if tags:
        conn.execute(t.model_tags.insert(), tags)
    name_blobs_in(conn, "models", project, ((entry.name, version_blobs(entry.version))
                                            for entry in batch))
    return numbers
