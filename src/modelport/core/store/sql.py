"""The few statements whose SQL differs between SQLite and PostgreSQL.

Both speak ``INSERT … ON CONFLICT``; SQLAlchemy builds it per dialect, so
this is the only place that picks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _insert(conn: Connection, table: Table) -> Any:
    return _INSERTS[conn.dialect.name](table)


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]] | dict[str, Any]
                  ) -> None:
    """Insert rows, skipping those whose primary key already exists."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), rows)


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]] | dict[str, Any],
           update: Sequence[str], where: Any = None) -> None:
    """Insert rows, or update ``update`` columns of the existing row with the same
    primary key (only where ``where`` — written against ``excluded`` — holds)."""
    if not rows:
        return
    stmt = _insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    set_ = {name: stmt.excluded[name] for name in update}
    cond = where(table, stmt.excluded) if where is not None else None
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=set_, where=cond), rows)
