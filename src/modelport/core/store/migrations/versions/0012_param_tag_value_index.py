"""run params and tags: an index on (key, the value's first 100 characters)

A filter such as ``params.max_depth = '5'`` read every param of every run (a
sequential scan: 8 ms of a 11 ms top-100 over 2,000 runs). Values are text of any
length, past what a B-tree entry holds, so the index keeps a prefix; the search
compares that prefix too (``schema.value_prefix``) and checks the whole value on
the rows the index finds. Written out here, not read from ``schema.VALUE_PREFIX``:
a migration stays what it was when it ran.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

TABLES = ("run_params", "run_tags")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_key_value", table, ["key", sa.text("substr(value, 1, 100)")])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_key_value", table_name=table)
