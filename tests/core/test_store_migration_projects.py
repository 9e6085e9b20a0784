"""Migrations 0008 (projects), 0010 (stream projects) and 0011 (job results) on a store
made before each with data in it: nothing is lost, and every existing run, model,
endpoint, job and stream joins the project ``default``.

Runs on SQLite and on a fresh PostgreSQL schema (the ``settings`` fixture).
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from modelport.config import Settings
from modelport.core.store import open_store
from modelport.core.store.engine import forget_stores, open_database
from modelport.core.store.migration import VERSION_TABLE, head_revision
from older_stores import store_at

# one row per table with a foreign key or a project, written as 0007's schema had them
ROWS = {
    "runs": "INSERT INTO runs (id, experiment, name, status, start_time, packages) "
            "VALUES ('r1', 'default', 'first', 'FINISHED', 1.0, '{}')",
    "run_params": "INSERT INTO run_params VALUES ('r1', 'depth', '5')",
    "run_metrics": "INSERT INTO run_metrics VALUES ('r1', 'acc', 0, 0.9, 1.0)",
    "run_latest_metrics": "INSERT INTO run_latest_metrics VALUES ('r1', 'acc', 0.9, 0)",
    "run_tags": "INSERT INTO run_tags VALUES ('r1', 'team', 'ml')",
    "models": "INSERT INTO models (name, description, last_version, created, updated) "
              "VALUES ('iris', '', 1, 1.0, 1.0)",
    "model_versions": "INSERT INTO model_versions (name, version, format, artifact_digest, "
                      "artifact_size, signature, metrics, description, created) VALUES "
                      "('iris', 1, 'sklearn', '" + "a" * 64 + "', 10, '{}', '{}', '', 1.0)",
    "model_aliases": "INSERT INTO model_aliases VALUES ('iris', 'champion', 1)",
    "model_tags": "INSERT INTO model_tags VALUES ('iris', 1, 'stage', 'prod')",
    "endpoints": "INSERT INTO endpoints VALUES ('api', '{\"routes\": []}', 1, 1.0, 1.0)",
    "rollouts": "INSERT INTO rollouts VALUES ('ro1', 'api', 'canary', 'running', 'iris:1', "
                "'iris:1', '{}', 0, 1.0, 1, 1.0, 1.0)",
    "jobs": "INSERT INTO jobs (id, kind, model, version, status, input, output, options, rows, "
            "rows_failed, parts, started) VALUES ('j1', 'predict', 'iris', 1, 'succeeded', "
            "'in.csv', 'out/', '{}', 10, 0, 1, 1.0)",
    "api_keys": "INSERT INTO api_keys (id, name, hash, scopes, created) VALUES "
                "('k1', 'ci', '" + "b" * 64 + "', '[\"write\"]', 1.0)",
}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_upgrading_a_0007_store_keeps_every_row_in_the_default_project(
        settings: Settings, engine: Engine) -> None:
    store_at(engine, "0007", ROWS.values())
    with engine.connect() as conn:
        assert "project" not in {c["name"] for c in inspect(conn).get_columns("runs")}
    open_database(settings.db_url)  # migrates to the head
    with engine.connect() as conn:
        version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        assert version == head_revision()
        for table in ("runs", "models", "endpoints", "jobs"):
            assert conn.execute(text(f"SELECT project FROM {table}")).scalars().all() == [
                "default"]
    for table in ROWS:  # nothing lost: no row, and no child row by a cascade
        assert _count(engine, table) == 1, table
    store = open_store(settings.db_url)  # and the default project sees all of it
    assert store.runs.get_runs(["r1"])[0].params == {"depth": "5"}
    assert store.registry.pick_version("iris", ["champion"], False) == 1
    assert [e["name"] for e in store.endpoints.list_endpoints()] == ["api"]
    assert store.endpoints.active_rollout("api") is not None
    assert store.jobs.get_job("j1")["rows"] == 10  # type: ignore[index]
    assert store.jobs.get_job("j1")["result"] is None  # type: ignore[index]  # 0011: no result
    assert [k["projects"] for k in store.keys.list_keys(False)] == [None]
    assert open_store(settings.db_url, project="other").registry.list_models() == []
    forget_stores()


def test_upgrading_a_0009_store_keeps_every_stream_in_the_default_project(
        settings: Settings, engine: Engine) -> None:
    consumers = [f"INSERT INTO streams VALUES ('clicks', '{c}', 'ctr:1', '{{}}', 'running', "
                 f"'{{\"events\": 5}}', '{{\"model\": \"{'c' * 64}\"}}', 1.0, 2.0)"
                 for c in ("c1", "c2")]
    store_at(engine, "0009", consumers)
    open_database(settings.db_url)  # migrates to the head
    with engine.connect() as conn:
        assert conn.execute(text("SELECT project FROM streams")).scalars().all() == [
            "default", "default"]
    store = open_store(settings.db_url)
    assert [(s.consumer, s.stats, s.project) for s in store.streams.list_streams(None)] == [
        ("c1", {"events": 5}, "default"), ("c2", {"events": 5}, "default")]
    assert store.streams.get_stream("clicks", "c2").checkpoint == {  # type: ignore[union-attr]
        "model": "c" * 64}
    assert open_store(settings.db_url, project="other").streams.list_streams(None) == []
    forget_stores()
