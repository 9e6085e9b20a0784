"""MQTT plumbing shared by the agent and the publisher: topics, connecting, retained messages.

Topics, under a configurable prefix (default ``modelport/edge``)::

    PREFIX/GROUP/update                 retained update notice for a group
    PREFIX/GROUP/status/DEVICE          retained status of one device
    PREFIX/GROUP/infer/DEVICE           prediction requests to a device
    PREFIX/GROUP/result/DEVICE          its answers

Retained messages are the point: a device that connects late still gets the
group's latest notice, and ``modelport edge devices`` reads every device's
last status without the devices being asked.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

DEFAULT_PREFIX = "modelport/edge"


@dataclass(frozen=True)
class Topics:
    prefix: str = DEFAULT_PREFIX

    def update(self, group: str) -> str:
        return f"{self.prefix}/{_part(group)}/update"

    def status(self, group: str, device: str) -> str:
        return f"{self.prefix}/{_part(group)}/status/{_part(device)}"

    def infer(self, group: str, device: str) -> str:
        return f"{self.prefix}/{_part(group)}/infer/{_part(device)}"

    def result(self, group: str, device: str) -> str:
        return f"{self.prefix}/{_part(group)}/result/{_part(device)}"


def _part(name: str) -> str:
    if not name or any(c in name for c in "/+#\x00"):
        raise ValueError(f"{name!r} cannot be part of an MQTT topic (no '/', '+', '#')")
    return name


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "mqtts") or not parsed.hostname:
            raise ValueError(f"not a broker URL: {url!r} — use mqtt://HOST:PORT or "
                             "mqtts://HOST:PORT")
        tls = parsed.scheme == "mqtts"
        return cls(parsed.hostname, parsed.port or (8883 if tls else 1883), tls,
                   parsed.username, parsed.password)


def client(broker: Broker, client_id: str | None = None) -> Any:
    """A paho client (callback API v2) configured for ``broker``, not yet connected."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                    client_id=client_id or f"modelport-{uuid.uuid4().hex[:10]}")
    if broker.tls:
        c.tls_set()
    if broker.username:
        c.username_pw_set(broker.username, broker.password)
    return c


def connect(c: Any, broker: Broker, timeout: float = 10.0) -> None:
    """Connect and start the network loop; wait until the broker accepted us."""
    ready = threading.Event()
    failed: list[str] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            failed.append(str(reason))
        ready.set()

    previous = c.on_connect
    c.on_connect = on_connect
    try:
        c.connect(broker.host, broker.port, keepalive=30)
    except OSError as exc:
        raise ConnectionError(f"cannot reach the MQTT broker at {broker.host}:{broker.port}: "
                              f"{exc.strerror or exc}") from None
    c.loop_start()
    if not ready.wait(timeout) or failed:
        c.loop_stop()
        raise ConnectionError(f"the MQTT broker at {broker.host}:{broker.port} refused us: "
                              f"{failed[0] if failed else 'no answer'}")
    if previous is not None:
        c.on_connect = previous
        previous(c, None, None, None, None)


def publish_retained(broker: Broker, topic: str, payload: dict[str, Any] | None) -> None:
    """Set (or, with ``None``, clear) the retained message of ``topic``."""
    c = client(broker)
    connect(c, broker)
    try:
        body = b"" if payload is None else json.dumps(payload, sort_keys=True).encode()
        info = c.publish(topic, body, qos=1, retain=True)
        info.wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def collect_retained(broker: Broker, topic_filter: str, seconds: float = 1.0
                     ) -> dict[str, dict[str, Any]]:
    """The retained JSON messages under ``topic_filter``, by topic, gathered for ``seconds``."""
    found: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def on_message(client: Any, userdata: Any, msg: Any) -> None:
        if not msg.payload:
            return
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(doc, dict):
            with lock:
                found[msg.topic] = doc

    c = client(broker)
    c.on_message = on_message
    connect(c, broker)
    try:
        c.subscribe(topic_filter, qos=1)
        time.sleep(seconds)
    finally:
        c.disconnect()
        c.loop_stop()
    with lock:
        return dict(found)

