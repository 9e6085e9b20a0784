"""Alembic environment: always run on a connection modelport hands over."""

from alembic import context

from modelport.core.store.migration import VERSION_TABLE
from modelport.core.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
