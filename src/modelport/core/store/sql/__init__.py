"""The SQL implementation of every repository: SQLAlchemy Core on SQLite or PostgreSQL.

The only package (with ``core/store/engine``, ``schema`` and the migrations)
that writes SQL; everything above it goes through the repositories.
"""

from __future__ import annotations

from modelport.core.store.engine import Database
from modelport.core.store.sql.audit import SqlAudit
from modelport.core.store.sql.devices import SqlDevices
from modelport.core.store.sql.endpoints import SqlEndpoints
from modelport.core.store.sql.jobs import SqlJobs
from modelport.core.store.sql.keys import SqlKeys
from modelport.core.store.sql.projects import SqlProjects
from modelport.core.store.sql.registry import SqlRegistry
from modelport.core.store.sql.runs import SqlRuns
from modelport.core.store.sql.stats import SqlStats
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
        self.endpoints = SqlEndpoints(db)
        self.stats = SqlStats(db)
        self.devices = SqlDevices(db)
        self.audit = SqlAudit(db)  # the team server's own: not part of ``Store``
        self.projects = SqlProjects(db)  # what ``scoped.ScopedStore`` divides by

