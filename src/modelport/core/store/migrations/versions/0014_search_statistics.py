"""run search: the latest metrics' index ends with the run id; PostgreSQL learns which
values go with which param and tag key

A filtered, ordered top-100 (``metrics.accuracy > 0.5 and params.max_depth = '5'``,
by accuracy) went the wrong way on PostgreSQL as the runs grew. Its statistics
judge ``key = 'max_depth' AND value = '5'`` as two independent conditions — ``'5'``
is rare among the values of every key together — so it expected 28 runs where 492
had that param (2,000 runs) and began with the param, probing the accuracy of each:
20 ms of the database's CPU per search at 10,000 runs. Extended statistics (the
most common (key, value, prefix) combinations) give it the real count, and with
the metric index ending in the run id it walks the runs by accuracy, best first,
and stops after the page (8 ms at 10,000 runs; fewer rows read at any size). SQLite
has no extended statistics; the index serves it the same way. Written out here, not
read from ``schema``: a migration stays what it was when it ran.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

TABLES = ("run_params", "run_tags")


def _statistics() -> bool:
    """Expressions in extended statistics: PostgreSQL 14 and later."""
    dialect = op.get_bind().dialect
    return dialect.name == "postgresql" and (dialect.server_version_info or (0,)) >= (14,)


def upgrade() -> None:
    op.drop_index("ix_run_latest_metrics_key_value", table_name="run_latest_metrics")
    op.create_index("ix_run_latest_metrics_key_value_run", "run_latest_metrics",
                    ["key", "value", "run_id"])
    if _statistics():
        for table in TABLES:
            op.execute(sa.text(f"CREATE STATISTICS st_{table}_key_value (mcv) "
                               f"ON key, value, (substr(value, 1, 100)) FROM {table}"))
            op.execute(sa.text(f"ANALYZE {table}"))


def downgrade() -> None:
    if _statistics():
        for table in TABLES:
            op.execute(sa.text(f"DROP STATISTICS IF EXISTS st_{table}_key_value"))
    op.drop_index("ix_run_latest_metrics_key_value_run", table_name="run_latest_metrics")
    op.create_index("ix_run_latest_metrics_key_value", "run_latest_metrics", ["key", "value"])
