"""Migration 0012 (params' and tags' (key, value prefix) index) on a store made at 0011 with
runs in it, one of them with values longer than a B-tree entry holds: the index is built,
and equality filters find exactly the runs they found before.

Runs on SQLite and on a fresh PostgreSQL schema (the ``settings`` fixture).
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, select, text

from modelport.config import Settings
from modelport.core.store import open_store
from modelport.core.store import schema as t
from modelport.core.store.engine import forget_stores
from modelport.core.store.runs import Condition, Term
from modelport.core.store.schema import value_prefix
from older_stores import store_at

LONG = "v" * 4000  # past PostgreSQL's ~2,700-byte B-tree entry: a whole-value index fails


def _run(run_id: str, value: str) -> list[str]:
    return [f"INSERT INTO runs (id, experiment, name, status, start_time, packages) "
            f"VALUES ('{run_id}', 'default', '{run_id}', 'FINISHED', 1.0, '{{}}')",
            f"INSERT INTO run_params VALUES ('{run_id}', 'p', '{value}')",
            f"INSERT INTO run_tags VALUES ('{run_id}', 't', '{value}')"]


def _plan(engine: Engine, table: Table) -> str:
    """How the database finds a value by key and prefix as the search asks: the index's
    name is in it when the search's expression is the index's."""
    query = select(table.c.run_id).where(table.c.key == "p", value_prefix(table.c.value) == "5")
    sql = query.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":  # scans a table this small whatever its indexes
            index = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :name"),
                                 {"name": f"ix_{table.name}_key_value"}).scalar_one()
            assert str(sql).endswith(f"substr({table.name}.value, 1, 100) = '5'")
            return f"ix_{table.name}_key_value" if "substr(value, 1, 100))" in index else ""
        conn.execute(text("SET enable_seqscan = off"))  # a table this small is read whole
        return " ".join(str(r[0]) for r in conn.execute(text(f"EXPLAIN {sql}")))


def test_upgrading_a_0011_store_indexes_values_and_finds_the_same_runs(
        settings: Settings, engine: Engine) -> None:
    store_at(engine, "0011", _run("short", "5") + _run("long", LONG) + _run("longer", LONG + "w"))
    store = open_store(settings.db_url)  # migrates to the head
    for table in (t.run_params, t.run_tags):
        assert f"ix_{table.name}_key_value" in _plan(engine, table)
    id_order = [(Term("attributes", "id"), False)]
    for kind, key in (("params", "p"), ("tags", "t")):
        for value, found in (("5", "short"), (LONG, "long"), (LONG + "w", "longer")):
            page = store.runs.search([Condition(Term(kind, key), "=", value)], id_order,
                                     None, None, None)
            assert [r.id for r in page.runs] == [found]
    forget_stores()
