"""The audit log: every write request (who, what, when), and ``GET /api/v1/audit`` to read it.

A write is a request to a route that needs more than ``read``, made with a
valid key (or with auth off); a request without a valid key changed nothing
and is not recorded, so anonymous callers cannot flood the log. Entries are
written in batches by a background task (a write request does not pay for a
second transaction) at most ``FLUSH_S`` after the response, and before any
read of the log; a store that fails keeps them pending (up to ``MAX_PENDING``)
for the next try.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.params import FromQuery

from modelport.core.store.audit import AuditEntry, AuditRecord, AuditRepository
from modelport.errors import InvalidInputError
from modelport.interfaces.team.access import needs

log = logging.getLogger("modelport.team")
FLUSH_S = 0.25
MAX_PENDING = 100_000
MAX_PAGE = 1000


class Auditor:
    """Pending entries and their writer; ``add`` never waits."""

    def __init__(self, repo: AuditRepository, flush_s: float = FLUSH_S) -> None:
        self.repo = repo
        self.flush_s = flush_s
        self.pending: list[AuditEntry] = []
        self.lock = asyncio.Lock()

    def add(self, entry: AuditEntry) -> None:
        if len(self.pending) >= MAX_PENDING:
            log.error("audit log: the store has refused entries for too long; dropping the "
                      "oldest pending one")
            del self.pending[0]
        self.pending.append(entry)

    async def flush(self) -> None:
        async with self.lock:  # one writer: entries stay in order
            batch, self.pending = self.pending, []
            try:
                await anyio.to_thread.run_sync(self.repo.record, batch)
            except Exception as exc:  # the store is down for a moment: retry later
                log.warning("audit log: writing %d entries failed: %s", len(batch), exc)
                self.pending = batch + self.pending

    async def run(self, stop: asyncio.Event) -> None:
        """Write what is pending every ``flush_s`` until ``stop`` is set (a write in flight
        finishes first), then what is left."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_s)
            if self.pending:
                await self.flush()


@asynccontextmanager
async def recording(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan: entries are written while the server runs and when it stops."""
    auditor: Auditor = app.state.auditor
    stop = asyncio.Event()
    task = asyncio.create_task(auditor.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


@get("/", guards=[needs("admin")])
async def read_log(state: State, limit: FromQuery[int] = 100, before: FromQuery[int | None] = None,
                   key: FromQuery[str | None] = None,
                   since: FromQuery[float | None] = None) -> list[AuditRecord]:
    """Newest first; ``before`` is the smallest ``id`` of the last page, for the next."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1 to {MAX_PAGE}")
    auditor: Auditor = state.auditor
    await auditor.flush()
    return await anyio.to_thread.run_sync(auditor.repo.entries, limit, before, key, since)


router = Router("/api/v1/audit", route_handlers=[read_log], tags=["audit"])
