"""Reading whole runs: a run's row with its params, metrics, tags and artifacts, in one row.

Each run comes back as one row: its columns, then each narrow table aggregated
into one JSON object by a correlated subquery, as text parsed here by orjson
(psycopg's ``json.loads`` of four objects per run took half the time of reading
a page). On PostgreSQL every round trip costs more than the query, and on
SQLite walking a row costs more in Python than aggregating it in C (a
top-100: ~3,700 rows).

A search's page is read in the same statement as the runs it picks
(``read_page``): on PostgreSQL the records' columns sit beside the sort keys of
the filtered, ordered, limited SELECT (it aggregates only the rows the LIMIT
keeps); on SQLite the filtered, ordered, limited ids are a subquery the records
are joined to — one statement, one plan, and no list of ids sent back. Its
text is the same for every search of one shape (SQLAlchemy compiles it once),
but PostgreSQL plans it for the values of each search (``engine.CUSTOM_PLAN``):
whether to walk the runs by a metric or start from a param depends on them.

Metrics come in the same row on PostgreSQL (it renders a float8 exactly);
SQLite's JSON — and its ``printf`` — round a float to 15-16 digits, so there
they are read as rows, in a second statement of the same read transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Select, Text, bindparam, cast, func, null, select

from modelport.core.store import schema as t
from modelport.core.store.engine import CUSTOM_PLAN
from modelport.core.store.runs import RunRecord

_CHUNK = 500  # ids per statement where they are sent as a list (``get_runs``)
# what a record holds of each narrow table: (table, attribute, key column, value column)
_PARTS = ((t.run_params, "params", "key", "value"),
          (t.run_latest_metrics, "metrics", "key", "value"),
          (t.run_tags, "tags", "key", "value"),
          (t.run_artifacts, "artifacts", "path", "digest"))
# each database's aggregate into one JSON object, and whether it renders a float exactly
_AGGREGATE = {"postgresql": (func.json_object_agg, True),
              "sqlite": (func.json_group_object, False)}


def _columns(dialect: str) -> list[Any]:
    """A run's row, in ``RunRecord``'s field order."""
    aggregate, exact = _AGGREGATE[dialect]
    parts = {attr: select(cast(aggregate(table.c[key], table.c[value]), Text))
             .where(table.c.run_id == t.runs.c.id).scalar_subquery()
             for table, attr, key, value in _PARTS if exact or attr != "metrics"}
    r = t.runs.c
    return [r.id, r.name, r.experiment, r.status, r.start_time, r.end_time, r.duration,
            r.dataset_digest, r.git_commit, cast(r.packages, Text), parts["params"],
            parts.get("metrics", null()), parts["tags"], parts["artifacts"], r.project]


_COLUMNS = {dialect: _columns(dialect) for dialect in _AGGREGATE}
# whether a page is read in one SELECT, the runs' aggregates beside the sort keys:
# PostgreSQL computes such costly columns only for the rows past the LIMIT, and the
# outer join to ``runs`` a page subquery needs was planned as a hash join over every run
# (a sequential scan of 10,000 runs for a page of 100); SQLite would aggregate every
# matching run before sorting, so there the page is a subquery the runs are joined to
_FLAT = {"postgresql": True, "sqlite": False}
_WIDTH = len(_COLUMNS["sqlite"])


def _record(row: Sequence[Any]) -> RunRecord:
    (run_id, name, experiment, status, start, end, duration, dataset, commit, packages,
     params, metrics, tags, artifacts, project) = row[:_WIDTH]
    return RunRecord(
        run_id, name, experiment, status, start, end, duration, dataset, commit,
        (orjson.loads(packages) if packages else None) or {},
        orjson.loads(params) if params else {},
        # JSON has no infinity: PostgreSQL writes it as the string "Infinity"
        {k: float(v) for k, v in orjson.loads(metrics).items()} if metrics else {},
        orjson.loads(tags) if tags else {},
        orjson.loads(artifacts) if artifacts else {},
        project)


def page_statement(dialect: str, ids: Select[Any], keys: Sequence[tuple[Any, bool]],
                   limit: Any) -> Select[Any]:
    """The statement (for ``dialect``) reading the runs ``ids`` (a SELECT of ``runs.id``
    with its joins and conditions) picks, ordered by ``keys`` ((expression, descending)
    pairs; the last one unique), at most ``limit`` (a number, a bound parameter or None):
    each run's row, then its values of ``keys``."""
    labels = [f"sort_{i}" for i in range(len(keys))]
    sorted_by = [key.label(label) for (key, _), label in zip(keys, labels, strict=True)]
    order = [key.desc() if desc else key.asc() for key, desc in keys]
    if _FLAT[dialect]:
        flat = ids.with_only_columns(*_COLUMNS[dialect], *sorted_by).order_by(*order)
        return (flat if limit is None else flat.limit(limit)).execution_options(
            **{CUSTOM_PLAN: True})  # how to walk the runs depends on the values
    inner = ids.add_columns(*sorted_by).order_by(*order)
    page = (inner if limit is None else inner.limit(limit)).subquery("page")
    sort = [page.c[label] for label in labels]
    return (select(*_COLUMNS[dialect], *sort)
            .join_from(page, t.runs, t.runs.c.id == page.c.id)
            .order_by(*(c.desc() if desc else c.asc()
                        for c, (_, desc) in zip(sort, keys, strict=True))))


def read_page(conn: Connection, stmt: Select[Any], params: dict[str, Any] | None = None
              ) -> list[tuple[RunRecord, list[Any]]]:
    """The runs a ``page_statement`` reads, each with its sort values."""
    found = [(_record(row), list(row[_WIDTH:])) for row in conn.execute(stmt, params)]
    _add_metrics(conn, [record for record, _ in found])
    return found


def read_runs(conn: Connection, ids: list[str]) -> list[RunRecord]:
    """Full records for those of ``ids`` that exist, in that order, ``_CHUNK`` per
    statement."""
    by_id: dict[str, RunRecord] = {}
    columns = _COLUMNS[conn.dialect.name]
    for start in range(0, len(ids), _CHUNK):
        chunk = [_record(row) for row in conn.execute(
            select(*columns).where(t.runs.c.id.in_(ids[start:start + _CHUNK])))]
        _add_metrics(conn, chunk)
        by_id.update((record.id, record) for record in chunk)
    return [by_id[i] for i in ids if i in by_id]


# the ids travel as one JSON array (one parameter, one statement text, whatever their number)
_METRICS = select(t.run_latest_metrics.c.run_id, t.run_latest_metrics.c.key,
                  t.run_latest_metrics.c.value).where(t.run_latest_metrics.c.run_id.in_(
                      select(func.json_each(bindparam("ids")).table_valued("value").c.value)))


def _add_metrics(conn: Connection, records: list[RunRecord]) -> None:
    """SQLite: each record's latest metric values, read as rows (exact floats)."""
    if _AGGREGATE[conn.dialect.name][1] or not records:
        return
    by_id = {record.id: record for record in records}
    for run_id, key, value in conn.execute(_METRICS, {"ids": orjson.dumps(list(by_id)).decode()}):
        by_id[run_id].metrics[key] = value
