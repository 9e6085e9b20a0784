"""Rate limits per key per server: token buckets in memory the worker processes share.

Each worker kept its own buckets before, so ``--workers N`` gave every key N
times its limit. The server's parent process makes one ``Buckets`` table before
it spawns workers and hands it to each (shared memory plus one lock travel
through the spawn); every worker spends from the same buckets. The clock is
``CLOCK_MONOTONIC``, the same in every process of one machine.

A table has a fixed number of slots (an open-addressing hash on the key id),
one per rate-limited key: past that many keys, two keys may share a bucket —
stricter, never looser.
"""

from __future__ import annotations

import multiprocessing
import time
import zlib
from typing import Any

SLOTS = 4096  # rate-limited keys one server tracks apart; 24 bytes each


def _ident(key_id: str) -> float:
    """A key id as a non-zero number a double holds exactly (0 marks an empty slot)."""
    if len(key_id) <= 12:
        try:
            return float(int(key_id, 16) + 1)
        except ValueError:
            pass
    return float(zlib.crc32(key_id.encode()) + (1 << 49))


class Buckets:
    """Token buckets by key id: ``rate`` requests per second, bursts up to one second's worth.

    Safe to use from every process the table was handed to (one lock guards it);
    spending is a few microseconds, paid only by keys that have a limit."""

    def __init__(self, slots: int = SLOTS) -> None:
        context = multiprocessing.get_context("spawn")
        self.slots = slots
        # per slot: key ident, tokens, stamp
        self._table: Any = context.RawArray("d", 3 * slots)
        self._lock: Any = context.Lock()

    def _slot(self, ident: float) -> int:
        table, slots = self._table, self.slots
        start = int(ident) % slots
        for probe in range(slots):
            i = 3 * ((start + probe) % slots)
            if table[i] == ident:
                return i
            if table[i] == 0.0:  # a key not seen yet: its bucket starts full
                table[i], table[i + 1], table[i + 2] = ident, -1.0, 0.0
                return i
        return 3 * start  # the table is full: share a bucket (stricter, never looser)

    def spend(self, key_id: str, rate: float) -> float:
        """Take one token; 0.0 when the request may go, else the seconds until one may."""
        ident = _ident(key_id)
        with self._lock:
            table = self._table
            i = self._slot(ident)
            now = time.monotonic()
            tokens = table[i + 1]
            tokens = rate if tokens < 0 else min(rate, tokens + (now - table[i + 2]) * rate)
            table[i + 2] = now
            if tokens < 1:
                table[i + 1] = tokens
                return (1 - tokens) / rate
            table[i + 1] = tokens - 1
            return 0.0
