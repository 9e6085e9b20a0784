"""MQTT 5 topics: a persistent session per consumer, a shared subscription per group.

A source acknowledges (PUBACK) only in ``ack`` (``manual_ack``), so a message
read but not processed stays in its session and comes back, flagged DUP, when
the same consumer reconnects. MQTT has no way to hand a dead consumer's
in-flight messages to another member, and keeps nothing for a topic nobody
subscribed to; ``info`` cannot tell a backlog either.

Mind the session expiry (``?session_expiry=``, default an hour) with groups:
Mosquitto keeps routing a disconnected member's share of a shared subscription
to its session until that session expires, and drops what is queued there when
it does. A member that leaves for good should come back once to drain, or the
group should use a short expiry.
"""

from __future__ import annotations

import hashlib
import queue
import re
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import SplitResult

from modelport.errors import BrokerError, InvalidInputError, first_line, require
from modelport.runtimes.stream.brokers import address, int_param, path_name, query
from modelport.runtimes.stream.brokers.base import Message, Sink, Source, SourceInfo

mqtt = require("paho.mqtt.client", "stream")
from paho.mqtt.packettypes import PacketTypes  # noqa: E402  (after the missing-extra check)
from paho.mqtt.properties import Properties  # noqa: E402

_IO_TIMEOUT = 10.0
_EXAMPLE = "mqtt://127.0.0.1:1883/sensors/events"
_NOWHERE = "$modelport/none"  # a topic filter nobody uses, for a round trip
_RECEIVE_MAXIMUM = 65535  # in-flight messages the broker may send before our PUBACKs
_DEFAULT_SESSION_EXPIRY = 3600  # seconds a consumer's session outlives a disconnect


class _Target:
    """A parsed ``mqtt://`` URL."""

    def __init__(self, parts: SplitResult) -> None:
        url = parts.geturl()
        self.topic = path_name(parts, "topic", _EXAMPLE)
        self.host, self.port = address(parts, 1883)
        self.where = f"mqtt://{self.host}:{self.port}"
        params = query(parts)
        self.qos = int_param(params, "qos", 1, url)
        if self.qos not in (0, 1, 2):
            raise InvalidInputError(f"qos={self.qos} in {url!r}: MQTT QoS is 0, 1 or 2")
        self.session_expiry = int_param(params, "session_expiry", _DEFAULT_SESSION_EXPIRY, url)
        self.username, self.password = parts.username, parts.password

    def connect(self, client_id: str, on_message: Any = None, persistent: bool = False) -> Any:
        """A connected client with its network thread running."""
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv5, manual_ack=on_message is not None)
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.max_inflight_messages_set(1000)
        connected = threading.Event()
        outcome: list[Any] = []

        def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
            outcome.append(reason)
            connected.set()

        client.on_connect = on_connect
        if on_message is not None:
            client.on_message = on_message
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = _RECEIVE_MAXIMUM
        if persistent:
            props.SessionExpiryInterval = self.session_expiry
        try:
            client.connect(self.host, self.port, keepalive=30, clean_start=not persistent,
                           properties=props)
        except OSError as exc:
            raise self.unreachable(exc) from exc
        client.loop_start()
        if not connected.wait(_IO_TIMEOUT) or outcome[0].is_failure:
            client.loop_stop()
            client.disconnect()
            reason = outcome[0] if outcome else "no CONNACK"
            raise BrokerError(f"MQTT broker at {self.where} refused the connection: {reason}")
        return client

    @staticmethod
    def disconnect(client: Any) -> None:
        """Say goodbye and stop the network thread (``loop_stop`` right after
        ``disconnect`` can stop it before the DISCONNECT is sent)."""
        gone = threading.Event()
        client.on_disconnect = lambda *args: gone.set()
        if client.disconnect() == mqtt.MQTT_ERR_SUCCESS:
            gone.wait(2.0)
        client.loop_stop()

    def unreachable(self, exc: BaseException) -> BrokerError:
        return BrokerError(f"cannot reach the MQTT broker at {self.where} — is it running? "
                           f"({first_line(exc)})")


def _client_id(topic: str, group: str, consumer: str) -> str:
    """Stable per topic, group and consumer, so a restart finds its session again
    (and a consumer of another topic never shares it)."""
    digest = hashlib.sha256(f"{topic}\0{group}\0{consumer}".encode()).hexdigest()[:12]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"mp-{group[:20]}-{consumer[:20]}-{digest}")


class MqttSource(Source):
    """A consumer of ``$share/GROUP/TOPIC``: paho's network thread queues messages,
    ``read`` drains the queue. ``claim_after`` has no MQTT equivalent."""

    def __init__(self, target: _Target, group: str, consumer: str) -> None:
        self._t = target
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._client = target.connect(_client_id(target.topic, group, consumer),
                                      on_message=self._on_message, persistent=True)
        try:
            self._subscribe(f"$share/{re.sub(r'[/+#]', '_', group)}/{target.topic}")
        except BaseException:
            self.close()
            raise

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._inbox.put(msg)

    def _subscribe(self, topic: str) -> None:
        done = threading.Event()
        codes: list[Any] = []

        def on_subscribe(c: Any, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
            codes.extend(reasons)
            done.set()

        self._client.on_subscribe = on_subscribe
        self._client.subscribe(topic, qos=self._t.qos)
        if not done.wait(_IO_TIMEOUT):
            raise BrokerError(f"MQTT broker at {self._t.where} did not confirm the "
                              f"subscription to {topic!r}")
        if any(code.is_failure for code in codes):
            raise BrokerError(f"MQTT broker at {self._t.where} refused the subscription "
                              f"to {topic!r}: {codes[0]}")

    def read(self, max_messages: int, timeout: float) -> list[Message]:
        try:
            first = self._inbox.get(timeout=timeout) if timeout > 0 else self._inbox.get_nowait()
        except queue.Empty:
            return []
        out = [_message(first)]
        while len(out) < max_messages:
            try:
                out.append(_message(self._inbox.get_nowait()))
            except queue.Empty:
                break
        return out

    def ack(self, messages: Sequence[Message]) -> None:
        for m in messages:
            qos, _, mid = m.id.partition(":")
            self._client.ack(int(mid), int(qos))

    def info(self) -> SourceInfo:
        return SourceInfo(lag=None, pending=None)

    def close(self) -> None:
        # PUBACKs get no answer, and a disconnect can reset the socket before the broker
        # read them (then they come back as duplicates): an UNSUBSCRIBE round trip
        # behind them proves the broker has processed them.
        done = threading.Event()
        self._client.on_unsubscribe = lambda *args: done.set()
        rc, _ = self._client.unsubscribe(_NOWHERE)
        if rc == mqtt.MQTT_ERR_SUCCESS:
            done.wait(_IO_TIMEOUT)
        # A plain DISCONNECT keeps the session (and its unacknowledged messages)
        # for ``session_expiry`` seconds.
        self._t.disconnect(self._client)


def _message(msg: Any) -> Message:
    return Message(f"{msg.qos}:{msg.mid}", msg.payload, bool(msg.dup))


class MqttSink(Sink):
    """Publishes at the URL's QoS and waits until the broker acknowledged every message."""

    def __init__(self, target: _Target) -> None:
        self._t = target
        self._client = target.connect(f"mp-sink-{uuid.uuid4().hex[:12]}")

    def publish(self, payloads: Sequence[bytes]) -> None:
        topic, qos = self._t.topic, self._t.qos
        infos = [self._client.publish(topic, p, qos=qos) for p in payloads]
        deadline = time.monotonic() + _IO_TIMEOUT
        for info in infos:
            try:
                info.wait_for_publish(max(deadline - time.monotonic(), 0.0))
            except (RuntimeError, ValueError) as exc:
                raise self._t.unreachable(exc) from exc
            if not info.is_published():
                raise BrokerError(f"the MQTT broker at {self._t.where} did not acknowledge "
                                  f"a publish to {topic!r} within {_IO_TIMEOUT:.0f} s")

    def close(self) -> None:
        self._t.disconnect(self._client)


def open_source(url: SplitResult, group: str, consumer: str, claim_after: float) -> Source:
    return MqttSource(_Target(url), group, consumer)


def open_sink(url: SplitResult) -> Sink:
    return MqttSink(_Target(url))


def dead_letter_url(url: SplitResult) -> str:
    return url._replace(path="/" + _Target(url).topic + "/dead").geturl()


def delete(url: SplitResult) -> None:
    """Nothing to remove: sinks never publish retained messages, so a broker keeps no
    data for a topic; consumers' sessions expire after ``session_expiry``. (Clearing a
    retained message would deliver an empty message to every live subscriber.)"""
    _Target(url)
