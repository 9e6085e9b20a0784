"""Conformance suite: every broker adapter keeps the ``Source`` / ``Sink`` contract.

Each test runs against every broker (``broker_url``, see conftest.py) and opens
its source before publishing: MQTT keeps nothing for a topic nobody subscribed
to. What a broker cannot do at all is not generated for it (see ``CAN_CLAIM``).
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest

from modelport.errors import BrokerError, InvalidInputError
from modelport.runtimes.stream import brokers
from modelport.runtimes.stream.brokers import Message, Source, SourceInfo

CLAIM = 0.5  # claim_after in these tests: a dead consumer's messages move within a second
# What a broker cannot do is not generated as a test (CI skips mean missing services):
# - MQTT keeps a disconnected consumer's in-flight messages in its own session; no other
#   member of the group can take them over;
# - JetStream redelivers a message unacknowledged for ack_wait (= claim_after) to any
#   member of the group, the one still holding it included;
# - MQTT brokers do not report a subscription's backlog (checked: info() says None).
CAN_CLAIM = ["nats", "redis"]
CAN_HOLD = ["mqtt", "redis"]


def payloads(n: int) -> list[bytes]:
    """Distinct payloads, with the bytes text protocols trip on."""
    return [b"\x00\xff\r\n event %d " % i + bytes([i % 256]) for i in range(n)]


def drain(source: Source, n: int, within: float = 5.0, batch: int = 100) -> list[Message]:
    """Read until ``n`` messages came (or ``within`` seconds passed); at-least-once
    brokers may need a few reads (and a redelivery timer) to get there."""
    got: list[Message] = []
    deadline = time.monotonic() + within
    while len(got) < n and time.monotonic() < deadline:
        got += source.read(batch, timeout=0.2)
    return got


def test_publish_then_read_in_order_exactly_once(broker_url: str) -> None:
    sent = payloads(120)
    with brokers.open_source(broker_url, "g", "c1") as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent[:70])
            sink.publish(sent[70:])
            sink.publish([])
        got = drain(source, len(sent))
        assert [m.data for m in got] == sent
        assert not any(m.redelivered for m in got)
        assert len({m.id for m in got}) == len(sent)
        source.ack(got)
        source.ack([])
        assert source.read(100, timeout=0.3) == []


def test_unacked_messages_come_back_to_the_same_consumer(broker_url: str) -> None:
    sent = payloads(20)
    with brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM) as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        first = drain(source, len(sent))
        assert [m.data for m in first] == sent
        source.ack(first[:5])  # processed; the other 15 were not
    with brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM) as source:
        again = drain(source, 15)
        assert [m.data for m in again] == sent[5:]
        assert all(m.redelivered for m in again)
        source.ack(again)
        assert source.read(100, timeout=CLAIM + 0.3) == []


@pytest.mark.parametrize("broker", CAN_CLAIM, indirect=True)
def test_a_dead_consumers_messages_go_to_another_member(broker_url: str) -> None:
    sent = payloads(20)
    with ExitStack() as stack:
        dead = stack.enter_context(brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM))
        alive = stack.enter_context(brokers.open_source(broker_url, "g", "c2", claim_after=CLAIM))
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        assert [m.data for m in drain(dead, len(sent))] == sent  # ... and never acks
        taken = drain(alive, len(sent), within=CLAIM * 10)
        assert sorted(m.data for m in taken) == sorted(sent)
        assert all(m.redelivered for m in taken)
        alive.ack(taken)
        time.sleep(CLAIM * 1.5)  # acknowledged: nothing to claim any more
        assert alive.read(100, timeout=0.3) == []


@pytest.mark.parametrize("broker", CAN_HOLD, indirect=True)
def test_a_live_consumer_keeps_what_it_holds(broker_url: str) -> None:
    """Read and not yet acknowledged (the runner waits for a checkpoint) is not lost
    and not handed back to the same consumer as a duplicate, however long it takes."""
    sent = payloads(5)
    with brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM) as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        held = drain(source, len(sent))
        time.sleep(CLAIM * 1.5)
        assert source.read(100, timeout=CLAIM) == []
        source.ack(held)


def test_members_of_a_group_split_the_work(broker_url: str) -> None:
    sent = payloads(200)
    with ExitStack() as stack:
        members = [stack.enter_context(brokers.open_source(broker_url, "g", f"c{i}"))
                   for i in (1, 2)]
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        seen: list[list[bytes]] = [[], []]
        deadline = time.monotonic() + 5.0
        while sum(map(len, seen)) < len(sent) and time.monotonic() < deadline:
            for source, got in zip(members, seen, strict=True):
                batch = source.read(10, timeout=0.05)
                source.ack(batch)
                got += [m.data for m in batch]
        everything = seen[0] + seen[1]
        assert sorted(everything) == sorted(sent)  # none lost, none read twice
        assert seen[0] and seen[1]


def test_info_reports_lag_and_pending(broker: str, broker_url: str) -> None:
    with brokers.open_source(broker_url, "g", "c1") as source:
        if broker == "mqtt":
            assert source.info() == SourceInfo(lag=None, pending=None)
            return
        assert source.info() == SourceInfo(lag=0, pending=0)
        with brokers.open_sink(broker_url) as sink:
            sink.publish(payloads(10))
        assert source.info() == SourceInfo(lag=10, pending=0)
        got = drain(source, 10, batch=20)  # never a full batch: no read-ahead (see below)
        assert len(got) == 10
        assert source.info() == SourceInfo(lag=0, pending=10)
        source.ack(got[:4])
        assert source.info() == SourceInfo(lag=0, pending=6)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_redis_reads_ahead_after_a_full_batch(broker_url: str) -> None:
    """A full batch means more is waiting: the next one is asked for at once, so Redis
    reads it while the caller works; it counts as pending (delivered to this consumer)
    and is handed out, in order, by the next read."""
    with brokers.open_source(broker_url, "g", "c1") as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(payloads(10))
        first = source.read(4, timeout=0.5)
        assert len(first) == 4
        assert source.info() == SourceInfo(lag=2, pending=8)
        rest = drain(source, 6, batch=4)
        assert [m.data for m in first + rest] == payloads(10)
        source.ack(first + rest)
        assert source.info() == SourceInfo(lag=0, pending=0)


def test_delete_removes_the_data(broker_url: str) -> None:
    with brokers.open_source(broker_url, "old", "c1"), brokers.open_sink(broker_url) as sink:
        sink.publish(payloads(3))
    brokers.delete(broker_url)
    brokers.delete(broker_url)  # gone already: not an error
    with brokers.open_source(broker_url, "new", "c1") as source:
        assert source.read(10, timeout=0.3) == []


@pytest.mark.parametrize("scheme", brokers.schemes())
def test_unreachable_broker_is_one_clear_line(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:1/mp-test-{uuid.uuid4().hex[:8]}"
    with pytest.raises(BrokerError, match=r"cannot reach .* at \w+://127\.0\.0\.1:1 — ") as err:
        brokers.open_source(url, "g", "c1")
    assert "\n" not in err.value.message
    with pytest.raises(BrokerError, match="cannot reach"):
        brokers.open_sink(url)


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"known schemes: mqtt://, nats://, redis://"):
        brokers.open_source("kafka://127.0.0.1:9092/events", "g", "c1")


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379", "nats://127.0.0.1:4222/",
                                 "mqtt://127.0.0.1:1883"])
def test_a_url_without_a_name_is_refused(url: str) -> None:
    with pytest.raises(InvalidInputError, match=r"names no (stream|subject|topic) — e\.g\."):
        brokers.open_sink(url)


@pytest.mark.parametrize("url, dead", [
    ("redis://h:6379/events?db=2", "redis://h:6379/events.dead?db=2"),
    ("nats://h:4222/orders.in?stream=ORDERS", "nats://h:4222/orders.in.dead"),
    ("mqtt://h:1883/sensors/in?qos=1", "mqtt://h:1883/sensors/in/dead?qos=1"),
])
def test_dead_letter_url(url: str, dead: str) -> None:
    assert brokers.dead_letter_url(url) == dead


@pytest.mark.parametrize("url, problem", [
    ("redis://127.0.0.1:6379/s?maxlen=many", "maxlen='many' .* is not an integer"),
    ("mqtt://127.0.0.1:1883/t?qos=3", "MQTT QoS is 0, 1 or 2"),
    ("nats://127.0.0.1:4222/a.b?stream=x.y", "a JetStream name may hold only"),
])
def test_bad_parameters_are_refused(url: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        brokers.open_sink(url)


def test_open_source_needs_a_group_and_a_consumer() -> None:
    with pytest.raises(InvalidInputError, match="consumer group and a consumer name"):
        brokers.open_source("redis://127.0.0.1:6379/s", "", "c1")


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_redis_drops_pending_entries_whose_data_is_gone(broker: str, broker_url: str) -> None:
    """Trimming (MAXLEN) or XDEL can remove entries still pending in a group: they
    come back with no data and must be acknowledged away, not returned."""
    import redis

    sent = payloads(6)
    with brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM) as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        got = drain(source, 6)
    parts = urlsplit(broker_url)
    stream = parts.path[1:]
    with redis.Redis(host=parts.hostname, port=parts.port or 6379) as r:
        r.xdel(stream, got[0].id, got[1].id)
    with brokers.open_source(broker_url, "g", "c1", claim_after=CLAIM) as source:
        assert [m.data for m in drain(source, 2, within=1.0, batch=2)] == sent[2:4]
        rest = drain(source, 2, within=1.0)
        assert [m.data for m in rest] == sent[4:]
        assert source.info().pending == 4
    with brokers.open_source(broker_url, "g", "c2", claim_after=CLAIM) as other:
        time.sleep(CLAIM)
        with redis.Redis(host=parts.hostname, port=parts.port or 6379) as r:
            r.xdel(stream, got[2].id)
        claimed = drain(other, 3, within=2.0)
        assert [m.data for m in claimed] == sent[3:]
        other.ack(claimed)
        assert other.info().pending == 0


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_redis_rereads_what_a_dropped_link_may_have_lost(broker: str, broker_url: str) -> None:
    """A reply lost with a broken connection leaves its entries in our pending list,
    where nobody else will claim them from a live consumer: after a reconnect the
    source reads its own pending entries again."""
    import redis

    sent = payloads(5)
    parts = urlsplit(broker_url)
    with brokers.open_source(broker_url, "g", "c1", claim_after=30.0) as source:
        with brokers.open_sink(broker_url) as sink:
            sink.publish(sent)
        assert len(drain(source, 5)) == 5  # say these never arrived
        with redis.Redis(host=parts.hostname, port=parts.port or 6379) as r:
            me = [c for c in r.client_list() if c["name"] == "modelport:g:c1"]
            r.client_kill_filter(_id=me[0]["id"])
        source.read(10, timeout=0.05)  # reconnects
        again = drain(source, 5, within=1.0)
        assert [m.data for m in again] == sent and all(m.redelivered for m in again)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_redis_without_scripts_behaves_the_same(broker: str, broker_url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that refuses Lua (ACL) gets plain XADD / XREADGROUP: same contract."""
    from modelport.runtimes.stream.brokers import redis_streams

    monkeypatch.setattr(redis_streams, "USE_SCRIPTS", False)
    cases = {
        "order": lambda url: test_publish_then_read_in_order_exactly_once(url),
        "reopen": lambda url: test_unacked_messages_come_back_to_the_same_consumer(url),
        "claim": lambda url: test_a_dead_consumers_messages_go_to_another_member(url),
        "info": lambda url: test_info_reports_lag_and_pending(broker, url),
        "gone": lambda url: test_redis_drops_pending_entries_whose_data_is_gone(broker, url),
    }
    for name, case in cases.items():
        url = f"{broker_url}-{name}"
        try:
            case(url)
        finally:
            brokers.delete(url)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
@pytest.mark.parametrize("scripts", [True, False], ids=["scripted", "plain"])
def test_redis_maxlen_trims_the_stream(broker: str, broker_url: str, scripts: bool,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import redis

    from modelport.runtimes.stream.brokers import redis_streams

    monkeypatch.setattr(redis_streams, "USE_SCRIPTS", scripts)
    with brokers.open_sink(f"{broker_url}?maxlen=100") as sink:
        for _ in range(4):
            sink.publish(payloads(500))
    parts = urlsplit(broker_url)
    with redis.Redis(host=parts.hostname, port=parts.port or 6379) as r:
        assert 100 <= r.xlen(parts.path[1:]) < 2000  # "~": trimmed by whole nodes
