"""Keeping the metadata schema current, in a version table of modelport's own.

Optuna's tables share the workspace database, and Optuna records its schema
revision in Alembic's default ``alembic_version`` table. modelport therefore
keeps its revision in ``modelport_alembic_version``, so neither tool reads the
other's revision as its own. Workspaces made before that kept modelport's
revision in ``alembic_version``; the first open moves it over (only a row
naming a modelport revision — Optuna's row, if any, stays where it is).

The head revision is read from the migration scripts themselves (the one no
other script names as its ``down_revision``), so adding a migration is adding
a file. Parsing them with :mod:`ast` costs about a millisecond; loading
Alembic's script directory would cost every CLI start ~100 ms of imports.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, inspect, text

VERSION_TABLE = "modelport_alembic_version"
SHARED_VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).parent / "migrations"


@cache
def revisions() -> dict[str, str | None]:
    """Every migration script's revision, mapped to the revision it follows."""
    found: dict[str, str | None] = {}
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        names: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name) \
                    and isinstance(node.value, ast.Constant):
                names[node.targets[0].id] = node.value.value
        revision = names.get("revision")
        if isinstance(revision, str):
            down = names.get("down_revision")
            found[revision] = down if isinstance(down, str) else None
    return found


@cache
def head_revision() -> str:
    """The newest migration: the one revision no other script follows."""
    graph = revisions()
    heads = set(graph) - {down for down in graph.values() if down}
    if len(heads) != 1:
        raise RuntimeError(f"migration scripts must form one line, found heads {sorted(heads)}")
    return heads.pop()


def recorded_revision(conn: Connection) -> str | None:
    """The revision in modelport's own table, read without a lock or any write."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def current_revision(conn: Connection) -> str | None:
    """The revision this database is at, adopting one left in the shared table."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if SHARED_VERSION_TABLE in tables:
        return _adopt_shared_revision(conn)
    return None


def _adopt_shared_revision(conn: Connection) -> str | None:
    """Move modelport's row out of ``alembic_version`` into modelport's own table.

    Runs inside the migration transaction, under its lock, so a crash leaves
    either the old layout or the new one. Rows naming any other revision
    (Optuna's) are not touched; the shared table is dropped only when the row
    taken was the only one in it.
    """
    rows = [r for (r,) in conn.execute(text(f"SELECT version_num FROM {SHARED_VERSION_TABLE}"))]
    ours = [r for r in rows if r in revisions()]
    if not ours:
        return None
    revision = ours[0]
    conn.execute(text(f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                      f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"))
    conn.execute(text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)"), {"v": revision})
    conn.execute(text(f"DELETE FROM {SHARED_VERSION_TABLE} WHERE version_num = :v"),
                 {"v": revision})
    if len(rows) == 1:
        conn.execute(text(f"DROP TABLE {SHARED_VERSION_TABLE}"))
    return revision


def upgrade(conn: Connection) -> None:
    """Run every migration past the database's revision, on ``conn``'s transaction."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
