"""Studies' contract with the store: Optuna's journal, kept by whichever store holds them.

A workspace on a ``modelport server`` cannot hand Optuna a database URL, so its
studies live in a journal the server keeps — Optuna's ``JournalStorage`` replays
an ordered log of operations (create a study, start a trial, tell a value), and
every worker, on this machine or another, appends to and reads the same log
through the server. Entries are numbered from 0 without gaps, in the order they
were appended: a reader that has read ``n`` entries asks for the ones after them.
"""

from __future__ import annotations

from typing import Any, Protocol

MAX_READ = 10_000  # entries per read; a reader asks again for the rest


class StudiesRepository(Protocol):
    """The journal of every study of the store. Thread- and process-safe: appends from
    many workers at once are numbered one after another, never interleaved."""

    def read_journal(self, start: int, limit: int = MAX_READ) -> list[dict[str, Any]]:
        """Up to ``limit`` entries from number ``start`` on, in order."""
        ...

    def append_journal(self, entries: list[dict[str, Any]]) -> None:
        """Add ``entries`` at the end, together, in their order."""
        ...
