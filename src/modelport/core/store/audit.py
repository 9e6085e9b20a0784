"""The audit log's contract with the store: who changed what, and when.

``modelport server`` records one entry per write request (every route that
needs more than the ``read`` scope), naming the key by id and name, never its
secret. Entries are only ever added; an admin reads them back newest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypedDict

from modelport.errors import InvalidInputError


class AuditEntry(TypedDict):
    at: float
    key_id: str | None  # None: the server ran with --auth off
    key_name: str | None
    method: str
    route: str  # the route's template: what kind of change
    path: str  # the path itself: what was changed
    status: int  # what came of it
    request_id: str


class AuditRecord(AuditEntry):
    id: int


class AuditRepository(Protocol):
    """The audit log. Thread-safe; every method is one transaction."""

    def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries``, all or none."""
        ...

    def entries(self, limit: int, before: int | None, key_id: str | None,
                since: float | None) -> list[AuditRecord]:
        """Up to ``limit`` entries, newest first: with ids below ``before`` (the next page),
        by ``key_id``, at or after ``since``."""
        ...


def audit_log(store: object) -> AuditRepository:
    """The audit log of the server's own database (a SQL store; a remote store has none:
    its server keeps the log)."""
    repo = getattr(store, "audit", None)
    if repo is None:
        raise InvalidInputError("modelport server keeps its audit log in its own database — "
                                "start it on a sqlite:// or postgresql+psycopg:// URL")
    return repo  # type: ignore[no-any-return]
