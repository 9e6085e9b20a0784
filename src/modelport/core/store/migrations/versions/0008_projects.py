"""projects: runs, models, endpoints and jobs belong to one; keys may be limited to some

Every existing row joins the project ``default`` (the column's server default),
so a workspace made before projects keeps all it had, where it had it.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

TABLES = ("runs", "models", "endpoints", "jobs")


def _index(table: str) -> tuple[str, str, list[str]]:
    """Runs are searched newest first within a project: one index serves both."""
    if table == "runs":
        return "ix_runs_project_start", table, ["project", "start_time"]
    return f"ix_{table}_project", table, ["project"]


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("project", sa.String(length=100), nullable=False,
                                       server_default="default"))
        op.create_index(*_index(table))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("projects", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("projects")
    for table in TABLES:
        op.drop_index(_index(table)[0], table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("project")
