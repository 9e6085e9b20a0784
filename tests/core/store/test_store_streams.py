"""The streams repository's contract, on every store implementation and database."""

from __future__ import annotations

from modelport.core.store import Store
from modelport.core.store.streams import StreamRecord


def test_a_consumer_restarts_with_its_checkpoint(store: Store) -> None:
    streams = store.streams
    streams.start_stream("clicks", "c1", "ctr:1", {"broker": "redis"}, now=1.0)
    streams.heartbeat("clicks", "c1", {"events": 10}, "running", now=2.0)
    streams.save_checkpoint("clicks", "c1", {"model": "a" * 64, "events": 10}, now=3.0)
    streams.heartbeat("clicks", "c1", {"events": 12}, "stopped", now=4.0)
    streams.start_stream("clicks", "c1", "ctr:2", {"broker": "nats"}, now=5.0)
    assert streams.get_stream("clicks", "c1") == StreamRecord(
        name="clicks", consumer="c1", model="ctr:2", config={"broker": "nats"},
        state="running", stats={"events": 12}, checkpoint={"model": "a" * 64, "events": 10},
        started=5.0, updated=5.0)
    assert streams.get_stream("clicks", "c2") is None


def test_streams_are_listed_by_name_then_consumer(store: Store) -> None:
    for name, consumer in (("views", "b"), ("clicks", "b"), ("clicks", "a")):
        store.streams.start_stream(name, consumer, "m:1", {}, now=1.0)
    assert [(s.name, s.consumer) for s in store.streams.list_streams(None)] == [
        ("clicks", "a"), ("clicks", "b"), ("views", "b")]
    assert [s.consumer for s in store.streams.list_streams("clicks")] == ["a", "b"]
    assert store.streams.list_streams("none") == []
