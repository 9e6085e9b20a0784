"""Stream consumers' contract with the store: one record per (stream, consumer)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

STALE_AFTER = 10.0  # seconds without a heartbeat before a "running" consumer is shown as lost


@dataclass(frozen=True)
class StreamRecord:
    name: str
    consumer: str
    model: str
    config: dict[str, Any]
    state: str
    stats: dict[str, Any]
    checkpoint: dict[str, Any] | None
    started: float
    updated: float
    project: str = "default"

    @property
    def alive(self) -> bool:
        return self.state == "running" and time.time() - self.updated < STALE_AFTER

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "alive": self.alive}


class StreamsRepository(Protocol):
    """Stream consumers. Thread-safe; every method is one transaction."""

    def start_stream(self, name: str, consumer: str, model: str, config: dict[str, Any],
                     now: float) -> None:
        """Mark a consumer running from ``now``, keeping the stats and checkpoint of an
        earlier run of it."""
        ...

    def get_stream(self, name: str, consumer: str) -> StreamRecord | None: ...

    def list_streams(self, name: str | None) -> list[StreamRecord]:
        """By stream name, then consumer."""
        ...

    def heartbeat(self, name: str, consumer: str, stats: dict[str, Any], state: str,
                  now: float) -> None: ...

    def save_checkpoint(self, name: str, consumer: str, checkpoint: dict[str, Any],
                        now: float) -> None: ...
