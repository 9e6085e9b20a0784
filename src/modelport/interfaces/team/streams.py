"""``/api/v1/streams``: one route per method of ``StreamsRepository``.

A consumer is addressed as ``/streams/NAME/CONSUMER``; its heartbeats and
checkpoints come from wherever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Router, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from modelport.core.store.streams import StreamRecord
from modelport.errors import NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request


@dataclass
class Start:
    model: str
    config: dict[str, Any]
    now: float


@dataclass
class Heartbeat:
    stats: dict[str, Any]
    state: str
    now: float


@dataclass
class Checkpoint:
    checkpoint: dict[str, Any]
    now: float


@put("/{name:str}/{consumer:str}", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def start_stream(store: ProjectStore, name: FromPath[str], consumer: FromPath[str],
                 data: JSONBody[Start]) -> None:
    storable(data)
    store.streams.start_stream(name, consumer, data.model, data.config, data.now)


@get("/{name:str}/{consumer:str}", guards=[needs("read")], sync_to_thread=True)
def get_stream(store: ProjectStore, name: FromPath[str], consumer: FromPath[str]) -> StreamRecord:
    found = store.streams.get_stream(name, consumer)
    if found is None:
        raise NotFoundError(f"stream {name!r} has no consumer {consumer!r} — list them with: "
                            "modelport stream list")
    return found  # type: ignore[no-any-return]


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_streams(store: ProjectStore, name: FromQuery[str | None] = None) -> list[StreamRecord]:
    return store.streams.list_streams(name)  # type: ignore[no-any-return]


@post("/{name:str}/{consumer:str}/heartbeat", guards=[needs("write")], status_code=204,
      sync_to_thread=True)
def heartbeat(store: ProjectStore, name: FromPath[str], consumer: FromPath[str],
              data: JSONBody[Heartbeat]) -> None:
    storable(data)
    store.streams.heartbeat(name, consumer, data.stats, data.state, data.now)


@put("/{name:str}/{consumer:str}/checkpoint", guards=[needs("write")], status_code=204,
     sync_to_thread=True)
def save_checkpoint(store: ProjectStore, name: FromPath[str], consumer: FromPath[str],
                    data: JSONBody[Checkpoint]) -> None:
    storable(data)
    store.streams.save_checkpoint(name, consumer, data.checkpoint, data.now)


router = Router("/api/v1/streams", route_handlers=[
    start_stream, get_stream, list_streams, heartbeat, save_checkpoint],
    tags=["streams"], before_request=storable_request)
