"""Stream consumers over REST: ``StreamsRepository`` as calls to ``/api/v1/streams``."""

from __future__ import annotations

from typing import Any

from modelport.core.store.rest.api import Api, segment
from modelport.core.store.streams import StreamRecord


def _record(data: dict[str, Any]) -> StreamRecord:
    return StreamRecord(**{k: v for k, v in data.items() if k != "alive"})


class RestStreams:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _at(self, name: str, consumer: str) -> str:
        return f"/streams/{segment(name)}/{segment(consumer)}"

    def start_stream(self, name: str, consumer: str, model: str, config: dict[str, Any],
                     now: float) -> None:
        self.api.call("PUT", self._at(name, consumer),
                      {"model": model, "config": config, "now": now})

    def get_stream(self, name: str, consumer: str) -> StreamRecord | None:
        found = self.api.found(self._at(name, consumer))
        return None if found is None else _record(found)

    def list_streams(self, name: str | None) -> list[StreamRecord]:
        return [_record(s) for s in self.api.call("GET", "/streams", name=name)]

    def heartbeat(self, name: str, consumer: str, stats: dict[str, Any], state: str,
                  now: float) -> None:
        self.api.call("POST", f"{self._at(name, consumer)}/heartbeat",
                      {"stats": stats, "state": state, "now": now})

    def save_checkpoint(self, name: str, consumer: str, checkpoint: dict[str, Any],
                        now: float) -> None:
        self.api.call("PUT", f"{self._at(name, consumer)}/checkpoint",
                      {"checkpoint": checkpoint, "now": now})
