"""Migration 0014 (the latest metrics' index ends with the run id; PostgreSQL's statistics
of params' and tags' values by key) on a store made at 0013 with runs in it: the index
is replaced, PostgreSQL estimates a param's common value by its key, and a filtered,
ordered search finds the runs it found before, in the same order.

Runs on SQLite and on a fresh PostgreSQL schema (the ``settings`` fixture).
"""

from __future__ import annotations

import json

from sqlalchemy import Engine, inspect, text

from modelport.config import Settings
from modelport.core.store import open_store
from modelport.core.store.engine import forget_stores
from modelport.core.store.runs import Condition, Term
from older_stores import store_at

RUNS = 400
COMMON = "5"  # a quarter of the runs' "depth": rare among every key's values together


def _runs() -> list[str]:
    statements = []
    for i in range(RUNS):
        run_id = f"r{i:03d}"
        statements += [
            f"INSERT INTO runs (id, experiment, name, status, start_time, packages) "
            f"VALUES ('{run_id}', 'default', '{run_id}', 'FINISHED', {i}.0, '{{}}')",
            f"INSERT INTO run_latest_metrics VALUES ('{run_id}', 'acc', {(i * 37) % 101}, 0)",
            f"INSERT INTO run_params VALUES ('{run_id}', 'depth', "
            f"'{COMMON if i % 4 == 0 else f'd{i}'}')",
            *(f"INSERT INTO run_params VALUES ('{run_id}', 'p{k}', '{i}-{k}')" for k in range(9)),
            f"INSERT INTO run_tags VALUES ('{run_id}', 'team', '{'ml' if i % 2 else 'ds'}')"]
    return statements


def _estimate(engine: Engine) -> int:
    """PostgreSQL's estimate of the runs whose ``depth`` is ``COMMON``, as a search asks."""
    with engine.connect() as conn:
        conn.execute(text("ANALYZE run_params"))
        plan = conn.execute(text(
            "EXPLAIN (FORMAT JSON) SELECT run_id FROM run_params WHERE key = 'depth' "
            f"AND substr(value, 1, 100) = '{COMMON}' AND value = '{COMMON}'")).scalar_one()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def test_upgrading_a_0013_store_keeps_what_searches_find(settings: Settings,
                                                         engine: Engine) -> None:
    store_at(engine, "0013", _runs())
    conditions = [Condition(Term("metrics", "acc"), ">", 20.0),
                  Condition(Term("params", "depth"), "=", COMMON)]
    by_acc = [(Term("metrics", "acc"), True)]
    expected = sorted((r for r in range(0, RUNS, 4) if (r * 37) % 101 > 20),
                      key=lambda r: (-((r * 37) % 101), -r))
    if engine.dialect.name == "postgresql":
        before = _estimate(engine)
    store = open_store(settings.db_url)  # migrates to the head
    with engine.connect() as conn:
        indexes = {ix["name"]: ix["column_names"]
                   for ix in inspect(conn).get_indexes("run_latest_metrics")}
    assert indexes.get("ix_run_latest_metrics_key_value_run") == ["key", "value", "run_id"]
    assert "ix_run_latest_metrics_key_value" not in indexes
    page = store.runs.search(conditions, by_acc, None, 10, None)
    assert [r.id for r in page.runs] == [f"r{r:03d}" for r in expected[:10]]
    assert page.next_page_token
    if engine.dialect.name == "postgresql":  # 100 runs have it: the estimate comes close
        assert before < 30 and 70 <= _estimate(engine) <= 130, (before, _estimate(engine))
        with engine.connect() as conn:
            names = set(conn.execute(text("SELECT stxname FROM pg_statistic_ext")).scalars())
        assert {"st_run_params_key_value", "st_run_tags_key_value"} <= names
    forget_stores()

