"""A search is planned for its values every time it runs, however often its shape recurs.

psycopg prepares a statement run five times, and PostgreSQL may then plan it once for
any values: a filtered, ordered search's generic plan guessed one run per filter and
was 10-40× slower than one planned for its values. Runs on SQLite and on a fresh
PostgreSQL schema (the ``settings`` fixture).
"""

from __future__ import annotations

from modelport.config import Settings
from modelport.core.store import open_store
from modelport.core.store.engine import forget_stores, open_database
from modelport.core.store.runs import Condition, MetricValue, RunRecord, Term

RUNS = 40


def _record(i: int) -> RunRecord:
    return RunRecord(id=f"r{i:02d}", name=f"run-{i}", experiment="e", status="FINISHED",
                     start_time=float(i), end_time=None, duration=None, dataset_digest=None,
                     git_commit=None, packages={}, params={"depth": str(i % 4)},
                     tags={"team": "ml"})


def test_a_recurring_search_is_never_prepared_and_finds_the_same_runs(
        settings: Settings) -> None:
    store = open_store(settings.db_url)
    for i in range(RUNS):
        store.runs.log_run(_record(i), [MetricValue("acc", 0, (i * 7) % RUNS / RUNS)], 1.0)
    conditions = [Condition(Term("metrics", "acc"), ">", 0.2),
                  Condition(Term("params", "depth"), "=", "1")]
    expected = sorted((i for i in range(1, RUNS, 4) if (i * 7) % RUNS / RUNS > 0.2),
                      key=lambda i: -((i * 7) % RUNS))
    for _ in range(12):  # past psycopg's five and PostgreSQL's five custom plans
        page = store.runs.search(conditions, [(Term("metrics", "acc"), True)], "e", 5, None)
        assert [r.id for r in page.runs] == [f"r{i:02d}" for i in expected[:5]]
    db = open_database(settings.db_url)
    if db.dialect == "postgresql":
        with db.read() as conn:
            prepared = list(conn.exec_driver_sql(
                "SELECT statement FROM pg_prepared_statements").scalars())
        assert not [s for s in prepared if "json_object_agg" in s]
    forget_stores()
