"""What a stream consumer has done, kept in the metadata store.

One row per (stream, consumer): the model it runs, its counters and drift
state (refreshed about once a second — the heartbeat ``stream status``
reads), and its last checkpoint: the digests of the learnt model and of the
label-join window, and how many events they include. A consumer restarted
after a crash resumes from that row; ``register_checkpoint`` turns it into a
model version that can be served, canaried or exported like any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update

from modelport.core.store import schema as t
from modelport.core.store.sql.upsert import upsert
from modelport.core.workspace import Workspace, current
from modelport.errors import NotFoundError
from modelport.lifecycle.registry import ModelVersion, get_version, register_artifact

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

    @property
    def alive(self) -> bool:
        return self.state == "running" and time.time() - self.updated < STALE_AFTER

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "alive": self.alive}


def start(name: str, consumer: str, model: str, config: dict[str, Any],
          ws: Workspace | None = None) -> StreamRecord | None:
    """Mark the consumer running; returns its previous record (with its checkpoint) if any."""
    ws = current(ws)
    previous = _get(ws, name, consumer)
    now = time.time()
    with ws.store.write() as conn:
        upsert(conn, t.streams, {
            "name": name, "consumer": consumer, "model": model, "config": config,
            "state": "running", "stats": previous.stats if previous else {},
            "checkpoint": previous.checkpoint if previous else None,
            "started": now, "updated": now}, update=["model", "config", "state", "started",
                                                     "updated"])
    return previous


def heartbeat(name: str, consumer: str, stats: dict[str, Any], state: str = "running",
              ws: Workspace | None = None) -> None:
    ws = current(ws)
    with ws.store.write() as conn:
        conn.execute(update(t.streams).where(t.streams.c.name == name,
                                             t.streams.c.consumer == consumer)
                     .values(stats=stats, state=state, updated=time.time()))


def save_checkpoint(name: str, consumer: str, model_bytes: bytes, window: dict[str, Any],
                    events: int, labels: int, version: str, ws: Workspace | None = None
                    ) -> dict[str, Any]:
    """Store the learnt state; the row points at it only once both blobs are written."""
    ws = current(ws)
    checkpoint = {"model": ws.artifacts.put(model_bytes),
                  "window": ws.artifacts.put(orjson.dumps(window)),
                  "events": events, "labels": labels, "version": version, "at": time.time(),
                  "size": len(model_bytes)}
    with ws.store.write() as conn:
        conn.execute(update(t.streams).where(t.streams.c.name == name,
                                             t.streams.c.consumer == consumer)
                     .values(checkpoint=checkpoint, updated=time.time()))
    return checkpoint


def load_checkpoint(checkpoint: dict[str, Any], ws: Workspace | None = None
                    ) -> tuple[bytes, dict[str, Any]]:
    """The model bytes and the join window of a checkpoint, digests verified."""
    ws = current(ws)
    return ws.artifacts.get(checkpoint["model"]), orjson.loads(ws.artifacts.get(
        checkpoint["window"]))


def list_streams(name: str | None = None, ws: Workspace | None = None) -> list[StreamRecord]:
    ws = current(ws)
    query = select(t.streams).order_by(t.streams.c.name, t.streams.c.consumer)
    if name:
        query = query.where(t.streams.c.name == name)
    with ws.store.read() as conn:
        return [StreamRecord(**row._mapping) for row in conn.execute(query)]


def _get(ws: Workspace, name: str, consumer: str) -> StreamRecord | None:
    with ws.store.read() as conn:
        row = conn.execute(select(t.streams).where(t.streams.c.name == name,
                                                   t.streams.c.consumer == consumer)).first()
    return StreamRecord(**row._mapping) if row else None


def register_checkpoint(name: str, consumer: str | None = None, model: str | None = None,
                        ws: Workspace | None = None) -> ModelVersion:
    """Register a consumer's last checkpoint as the next version of its model."""
    ws = current(ws)
    records = [r for r in list_streams(name, ws=ws)
               if r.checkpoint and (consumer is None or r.consumer == consumer)]
    if not records:
        raise NotFoundError(f"stream {name!r} has no checkpoint"
                            + (f" from consumer {consumer!r}" if consumer else ""))
    record = max(records, key=lambda r: r.checkpoint["at"] if r.checkpoint else 0)
    assert record.checkpoint is not None
    base = get_version(record.checkpoint["version"], ws=ws)
    model_bytes, _ = load_checkpoint(record.checkpoint, ws=ws)
    return register_artifact(
        model or base.name, "river", model_bytes, base.signature, example=base.input_example,
        description=f"learnt online by stream {name!r} ({record.consumer}) over "
                    f"{record.checkpoint['labels']} labels, from {base.ref}",
        tags={"online": "true", "stream": name, "learnt_from": base.ref,
              "recipe": base.tags.get("recipe", "")},
        ws=ws)
