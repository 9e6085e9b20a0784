"""Live statistics' contract with the store: one row per endpoint version, worker, window.

No two serving workers share a row, so a write never needs to read; readers
sum the rows they want (``runtimes/serving/stats``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypedDict


class StatsRow(TypedDict):
    endpoint: str
    version: str  # NAME:VERSION
    worker: str
    window: float  # the window's start, in seconds since the epoch
    data: dict[str, Any]  # counters, histograms, the "loaded" heartbeat


class StatsRepository(Protocol):
    """Endpoint statistics. Thread-safe; every method is one transaction."""

    def write_windows(self, rows: Sequence[StatsRow], worker: str, forget_before: float
                      ) -> None:
        """Store (or replace) ``rows``, and drop ``worker``'s windows older than
        ``forget_before``."""
        ...

    def read_windows(self, endpoint: str, since: float) -> list[StatsRow]:
        """Every worker's rows of ``endpoint`` for windows starting at or after ``since``."""
        ...
