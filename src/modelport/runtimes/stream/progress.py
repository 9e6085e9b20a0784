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
from typing import Any

import orjson

from modelport.core.store.streams import StreamRecord
from modelport.core.workspace import Workspace, current
from modelport.errors import NotFoundError
from modelport.lifecycle.registry import ModelVersion, get_version, register_artifact


def start(name: str, consumer: str, model: str, config: dict[str, Any],
          ws: Workspace | None = None) -> StreamRecord | None:
    """Mark the consumer running; returns its previous record (with its checkpoint) if any."""
    ws = current(ws)
    previous = ws.store.streams.get_stream(name, consumer)
    ws.store.streams.start_stream(name, consumer, model, config, time.time())
    return previous


def heartbeat(name: str, consumer: str, stats: dict[str, Any], state: str = "running",
              ws: Workspace | None = None) -> None:
    current(ws).store.streams.heartbeat(name, consumer, stats, state, time.time())


def save_checkpoint(name: str, consumer: str, model_bytes: bytes, window: dict[str, Any],
                    events: int, labels: int, version: str, ws: Workspace | None = None
                    ) -> dict[str, Any]:
    """Store the learnt state; the row points at it only once both blobs are written."""
    ws = current(ws)
    checkpoint = {"model": ws.artifacts.put(model_bytes),
                  "window": ws.artifacts.put(orjson.dumps(window)),
                  "events": events, "labels": labels, "version": version, "at": time.time(),
                  "size": len(model_bytes)}
    ws.store.streams.save_checkpoint(name, consumer, checkpoint, time.time())
    return checkpoint


def load_checkpoint(checkpoint: dict[str, Any], ws: Workspace | None = None
                    ) -> tuple[bytes, dict[str, Any]]:
    """The model bytes and the join window of a checkpoint, digests verified."""
    ws = current(ws)
    return ws.artifacts.get(checkpoint["model"]), orjson.loads(ws.artifacts.get(
        checkpoint["window"]))


def list_streams(name: str | None = None, ws: Workspace | None = None) -> list[StreamRecord]:
    return current(ws).store.streams.list_streams(name)


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
