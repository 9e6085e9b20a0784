"""stream consumers: their progress, health and last checkpoint

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=220), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=True),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name", "consumer"),
    )


def downgrade() -> None:
    op.drop_table("streams")
