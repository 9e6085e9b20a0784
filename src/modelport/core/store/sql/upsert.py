"""The few statements whose SQL differs between SQLite and PostgreSQL.

Both speak ``INSERT … ON CONFLICT``; SQLAlchemy builds it per dialect, so
this is the only place that picks one. A dialect's module is imported when a
statement for it is first built: PostgreSQL's costs a SQLite user ~30 ms at
every command start.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` into ``table`` as the connection's dialect builds it (with ``ON
    CONFLICT``)."""
    dialect = importlib.import_module(f"sqlalchemy.dialects.{conn.dialect.name}")
    return dialect.insert(table)


_IGNORES: dict[tuple[str, str], Any] = {}


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]] | dict[str, Any]
                  ) -> None:
    """Insert rows, skipping those whose primary key already exists."""
    if rows:
        key = (conn.dialect.name, table.name)
        stmt = _IGNORES.get(key)
        if stmt is None:
            stmt = _IGNORES[key] = dialect_insert(conn, table).on_conflict_do_nothing()
        conn.execute(stmt, rows)


_UPSERTS: dict[tuple[str, str, tuple[str, ...], Any], Any] = {}


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]] | dict[str, Any],
           update: Sequence[str], where: Any = None) -> None:
    """Insert rows, or update ``update`` columns of the existing row with the same
    primary key (only where ``where`` — written against ``excluded`` — holds).

    Statements are built once per table and shape: building one costs more than
    running it on the tracking hot path. ``where`` must be a module-level function.
    """
    if not rows:
        return
    key = (conn.dialect.name, table.name, tuple(update), where)
    stmt = _UPSERTS.get(key)
    if stmt is None:
        insert = dialect_insert(conn, table)
        keys = [c.name for c in table.primary_key.columns]
        set_ = {name: insert.excluded[name] for name in update}
        cond = where(table, insert.excluded) if where is not None else None
        stmt = _UPSERTS[key] = insert.on_conflict_do_update(index_elements=keys, set_=set_,
                                                            where=cond)
    conn.execute(stmt, rows)


def count_up(conn: Connection, table: Table, row: dict[str, Any], counter: str,
             update: Sequence[str] = (), where: Any = None) -> int | None:
    """Insert ``row`` with ``counter`` at 1, or add one to the existing row's ``counter``
    (and set its ``update`` columns from ``row``); the count after. One atomic statement:
    concurrent callers never see the same count. ``where`` (written against ``excluded``,
    as ``upsert``'s): None when the row exists and it does not hold (nothing changes)."""
    insert = dialect_insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    stmt = insert.values({**row, counter: 1}).on_conflict_do_update(
        index_elements=keys, set_={counter: table.c[counter] + 1,
                                   **{name: insert.excluded[name] for name in update}},
        where=where(table, insert.excluded) if where is not None else None,
    ).returning(table.c[counter])
    count = conn.execute(stmt).scalar()
    return None if count is None else int(count)
