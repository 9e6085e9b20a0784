"""A run's batch — params, tags, metric values, optionally the run itself — as one
PostgreSQL statement.

On PostgreSQL every statement is a round trip, and a batch written statement
by statement (``BEGIN``, the run, params, a read-back of the params, tags,
metric values, latest values, ``COMMIT``) spends eight where the work is one.
Here the rows travel as arrays, each table's write is a data-modifying
``WITH`` query, and a param that would change makes every one of them write
nothing: the statement is atomic on its own, so it runs without a transaction
around it. It answers the params that would have changed (none: all written).

SQLite, in process, has no round trips to save and keeps the statements of
``runs._log``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, text

from modelport.core.store.runs import MetricValue, RunRecord, taken_run

_HOLDS = "WHERE NOT EXISTS (SELECT 1 FROM changed)"
# a whole run also writes nothing when its id is another project's run's
_HOLDS_RUN = f"{_HOLDS} AND NOT EXISTS (SELECT 1 FROM foreign_run)"
_RUN = f"""
foreign_run AS (
  SELECT project FROM runs
  WHERE id = CAST(:run_id AS VARCHAR) AND project <> CAST(:project AS VARCHAR)
), written_run AS (
  INSERT INTO runs (id, name, experiment, status, start_time, end_time, duration,
                    dataset_digest, git_commit, packages, project)
  SELECT CAST(:run_id AS VARCHAR), CAST(:name AS VARCHAR), CAST(:experiment AS VARCHAR),
         CAST(:status AS VARCHAR), CAST(:start_time AS FLOAT8), CAST(:end_time AS FLOAT8),
         CAST(:duration AS FLOAT8), CAST(:dataset_digest AS VARCHAR),
         CAST(:git_commit AS VARCHAR), CAST(:packages AS JSON),
         CAST(:project AS VARCHAR) {_HOLDS_RUN}
  ON CONFLICT (id) DO UPDATE SET status = excluded.status, end_time = excluded.end_time,
                                 duration = excluded.duration),"""
_BATCH = """
WITH given AS (
  SELECT * FROM unnest(CAST(:param_keys AS TEXT[]), CAST(:param_values AS TEXT[]))
    AS g(key, value)
), changed AS (
  SELECT g.key, p.value FROM given g
  JOIN run_params p ON p.run_id = CAST(:run_id AS VARCHAR) AND p.key = g.key
                   AND p.value <> g.value
),{run}
written_params AS (
  INSERT INTO run_params (run_id, key, value)
  SELECT CAST(:run_id AS VARCHAR), key, value FROM given {holds}
  ON CONFLICT DO NOTHING
), written_tags AS (
  INSERT INTO run_tags (run_id, key, value)
  SELECT CAST(:run_id AS VARCHAR), k, v
  FROM unnest(CAST(:tag_keys AS TEXT[]), CAST(:tag_values AS TEXT[])) AS t(k, v) {holds}
  ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
), written_metrics AS (
  INSERT INTO run_metrics (run_id, key, step, value, timestamp)
  SELECT CAST(:run_id AS VARCHAR), k, s, v, CAST(:now AS FLOAT8)
  FROM unnest(CAST(:metric_keys AS TEXT[]), CAST(:metric_steps AS INTEGER[]),
              CAST(:metric_values AS FLOAT8[])) AS m(k, s, v) {holds}
  ON CONFLICT (run_id, key, step) DO UPDATE SET value = excluded.value,
                                                timestamp = excluded.timestamp
), written_latest AS (
  INSERT INTO run_latest_metrics (run_id, key, value, step)
  SELECT CAST(:run_id AS VARCHAR), k, v, s
  FROM unnest(CAST(:latest_keys AS TEXT[]), CAST(:latest_steps AS INTEGER[]),
              CAST(:latest_values AS FLOAT8[])) AS l(k, s, v) {holds}
  ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, step = excluded.step
  WHERE excluded.step >= run_latest_metrics.step
)
SELECT key, value FROM changed{foreign}
"""
_WITH_RUN = text(_BATCH.format(run=_RUN, holds=_HOLDS_RUN, foreign="""
UNION ALL SELECT NULL, project FROM foreign_run"""))
_WITHOUT_RUN = text(_BATCH.format(run="", holds=_HOLDS, foreign=""))


def write_batch(conn: Connection, run_id: str, params: Mapping[str, str],
                metrics: Sequence[MetricValue], tags: Mapping[str, str], now: float,
                run: RunRecord | None = None) -> dict[str, str]:
    """Write the batch (and ``run``, if given) in one statement, or nothing: the params
    that already hold another value, with that value (empty: everything was written);
    ``ConflictError`` if ``run``'s id is a run of another project.

    Each (key, step) is written once, its last value in ``metrics`` winning, and a
    metric's latest value is the last one given at its highest step — what writing
    the values one by one would leave."""
    values: dict[tuple[str, int], float] = {}
    latest: dict[str, MetricValue] = {}
    for m in metrics:
        values[(m.key, m.step)] = m.value
        if m.key not in latest or m.step >= latest[m.key].step:
            latest[m.key] = m
    bound: dict[str, Any] = {
        "run_id": run_id, "now": now,
        "param_keys": list(params), "param_values": list(params.values()),
        "tag_keys": list(tags), "tag_values": list(tags.values()),
        "metric_keys": [k for k, _ in values], "metric_steps": [s for _, s in values],
        "metric_values": list(values.values()),
        "latest_keys": list(latest), "latest_steps": [m.step for m in latest.values()],
        "latest_values": [m.value for m in latest.values()]}
    if run is not None:
        bound |= {"name": run.name, "experiment": run.experiment, "status": run.status,
                  "start_time": run.start_time, "end_time": run.end_time,
                  "duration": run.duration, "dataset_digest": run.dataset_digest,
                  "git_commit": run.git_commit, "packages": json.dumps(run.packages),
                  "project": run.project}
    rows = conn.execute(_WITH_RUN if run is not None else _WITHOUT_RUN, bound).all()
    if any(key is None for key, _ in rows):
        raise taken_run(run_id)
    return {key: value for key, value in rows}
