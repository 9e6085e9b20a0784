"""stream projects: each stream's consumers belong to one project, as runs and jobs do

Every existing consumer joins the project ``default`` (the column's server default),
so a workspace's streams stay where they were.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("streams") as batch:
        batch.add_column(sa.Column("project", sa.String(length=100), nullable=False,
                                   server_default="default"))
    op.create_index("ix_streams_project", "streams", ["project"])


def downgrade() -> None:
    op.drop_index("ix_streams_project", table_name="streams")
    with op.batch_alter_table("streams") as batch:
        batch.drop_column("project")
