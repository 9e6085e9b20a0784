"""The SQL implementation of every repository: SQLAlchemy Core on SQLite or PostgreSQL.

The only package (with ``core/store/engine``, ``schema`` and the migrations)
that writes SQL; everything above it goes through the repositories.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Connection

from modelport.core.store.engine import Database
from modelport.core.store.sql.jobs import SqlJobs
from modelport.core.store.sql.keys import SqlKeys
from modelport.core.store.sql.registry import SqlRegistry
from modelport.core.store.sql.runs import SqlRuns
from modelport.core.store.sql.streams import SqlStreams


class SqlStore:
    """Every repository on one migrated database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.registry = SqlRegistry(db)
        self.runs = SqlRuns(db)
        self.keys = SqlKeys(db)
        self.jobs = SqlJobs(db)
        self.streams = SqlStreams(db)

    # until every concept group has its repository, the rest still writes SQL inline
    def read(self) -> AbstractContextManager[Connection]:
        return self.db.read()

    def write(self) -> AbstractContextManager[Connection]:
        return self.db.write()

