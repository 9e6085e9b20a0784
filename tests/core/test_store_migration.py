"""modelport's own Alembic version table, beside Optuna's ``alembic_version``.

Each case runs on SQLite and on a fresh PostgreSQL schema (the ``settings``
fixture), with real Optuna studies in the same database.
"""

from __future__ import annotations

import warnings

import optuna
import pytest
from sqlalchemy import Engine, inspect, text

from modelport.config import Settings
from modelport.core.store.engine import forget_stores, open_database
from modelport.core.store.migration import VERSION_TABLE, head_revision, revisions

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _rows(engine: Engine, table: str) -> list[str] | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table(table):
            return None
        return sorted(r for (r,) in conn.execute(text(f"SELECT version_num FROM {table}")))


def _rdb(url: str, check: bool = True) -> optuna.storages.RDBStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, skip_compatibility_check=not check)


def _optuna_trials(url: str, name: str) -> int:
    """Run two trials of study ``name`` (with Optuna's own schema check); count its trials."""
    storage = _rdb(url)
    try:
        study = optuna.create_study(study_name=name, storage=storage, load_if_exists=True)
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        return len(study.trials)
    finally:
        storage.engine.dispose()


def _legacy_workspace(url: str, engine: Engine) -> None:
    """A workspace as modelport made it before: its revision in ``alembic_version``."""
    open_database(url)
    forget_stores()
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                          "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head_revision()})


def _optuna_head(url: str) -> str:
    storage = _rdb(url)
    storage.engine.dispose()
    return storage.get_head_version()


def test_a_fresh_database_leaves_alembic_version_to_optuna(settings: Settings,
                                                          engine: Engine) -> None:
    open_database(settings.db_url)
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
    assert _rows(engine, "alembic_version") is None
    assert _optuna_trials(settings.db_url, "s") == 2  # Optuna stamps its own revision
    assert _rows(engine, "alembic_version") == [_optuna_head(settings.db_url)]
    forget_stores()
    open_database(settings.db_url)  # and modelport, reopening, still sees only its own
    assert _rows(engine, VERSION_TABLE) == [head_revision()]


def test_a_database_holding_an_optuna_study_first(settings: Settings, engine: Engine) -> None:
    _optuna_trials(settings.db_url, "before")
    optuna_row = _rows(engine, "alembic_version")
    assert optuna_row == [_optuna_head(settings.db_url)]
    store = open_database(settings.db_url)
    with store.read() as conn:
        assert {"runs", "models", "streams"} <= set(inspect(conn).get_table_names())
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
    assert _rows(engine, "alembic_version") == optuna_row  # never touched
    assert _optuna_trials(settings.db_url, "before") == 4


def test_a_legacy_workspace_moves_its_revision_over(settings: Settings, engine: Engine) -> None:
    _legacy_workspace(settings.db_url, engine)
    assert _rows(engine, "alembic_version") == [head_revision()]
    open_database(settings.db_url)
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
    assert _rows(engine, "alembic_version") is None
    forget_stores()
    open_database(settings.db_url)  # idempotent
    assert _rows(engine, VERSION_TABLE) == [head_revision()]


def test_a_legacy_workspace_with_a_study_keeps_it(settings: Settings, engine: Engine) -> None:
    _legacy_workspace(settings.db_url, engine)
    storage = _rdb(settings.db_url, check=False)  # as modelport opened it then
    optuna.create_study(study_name="old", storage=storage).optimize(
        lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    storage.engine.dispose()
    open_database(settings.db_url)
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
    assert _optuna_trials(settings.db_url, "old") == 3  # Optuna re-stamps, its check passes
    assert _rows(engine, "alembic_version") == [_optuna_head(settings.db_url)]


def test_a_shared_table_holding_both_rows_keeps_optunas(settings: Settings,
                                                        engine: Engine) -> None:
    _legacy_workspace(settings.db_url, engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('v3.2.0.a')"))
    open_database(settings.db_url)
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
    assert _rows(engine, "alembic_version") == ["v3.2.0.a"]


@pytest.mark.storage_independent
def test_an_older_legacy_revision_is_upgraded(settings: Settings, engine: Engine) -> None:
    """A workspace migrations behind: the revision moves, then the rest runs."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    _legacy_workspace(settings.db_url, engine)
    with engine.begin() as conn:  # undo 0005 to the head by hand
        ops = Operations(MigrationContext.configure(conn))
        ops.drop_index("ix_run_latest_metrics_key_value_run", table_name="run_latest_metrics")
        ops.create_index("ix_run_latest_metrics_key_value", "run_latest_metrics",
                         ["key", "value"])
        ops.drop_index("ix_blob_owners_kind_key", table_name="blob_owners")
        ops.drop_table("blob_owners")
        with ops.batch_alter_table("jobs") as batch:
            batch.drop_column("result")
        for table in ("run_params", "run_tags"):
            ops.drop_index(f"ix_{table}_key_value", table_name=table)
        ops.drop_table("edge_devices")
        for table in ("runs", "models", "endpoints", "jobs"):
            ops.drop_index("ix_runs_project_start" if table == "runs" else f"ix_{table}_project",
                           table_name=table)
            with ops.batch_alter_table(table) as batch:
                batch.drop_column("project")
        with ops.batch_alter_table("api_keys") as batch:
            batch.drop_column("projects")
        ops.drop_table("audit_log")
        ops.drop_table("streams")
        with ops.batch_alter_table("model_versions") as batch:
            batch.drop_column("profile_digest")
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    assert revisions()["0005"] == "0004" and revisions()["0006"] == "0005"
    assert revisions()["0007"] == "0006" and revisions()["0008"] == "0007"
    assert revisions()["0009"] == "0008" and revisions()["0010"] == "0009"
    assert revisions()["0011"] == "0010" and revisions()["0012"] == "0011"
    assert revisions()["0013"] == "0012" and revisions()["0014"] == "0013"
    store = open_database(settings.db_url)
    with store.read() as conn:
        assert inspect(conn).has_table("streams")
    assert _rows(engine, VERSION_TABLE) == [head_revision()]
