"""Brokers by URL scheme: one ``Source`` / ``Sink`` interface, one adapter per broker.

The stream runtime names its input, output and dead-letter destinations by URL;
this registry maps the scheme to an adapter module, imported only when used (so
``import modelport`` never loads redis, nats or paho). Adding a broker means
adding one module with the four functions of ``Backend`` and one line in
``_SCHEMES`` — nothing else changes.

URL forms:

``redis://HOST:PORT/STREAM[?db=N&maxlen=N&password=P]``
    A Redis stream (the path is the stream key, not a database number: use
    ``?db=``). Consumers of one ``group`` form a Redis consumer group; a sink
    trims the stream to about ``maxlen`` entries when given.
``nats://HOST:PORT/SUBJECT[?stream=NAME]``
    NATS JetStream. A stream covering ``SUBJECT`` is created (file storage)
    when none exists, named ``NAME`` or after the subject (``a.b`` → ``a_b``);
    a ``group`` is one durable pull consumer shared by its members.
``mqtt://HOST:PORT/TOPIC[?qos=1&session_expiry=SECONDS]``
    MQTT 5 (Mosquitto and others). A source keeps a persistent session per
    ``group`` and ``consumer`` and subscribes to ``$share/GROUP/TOPIC``, so the
    members of a group split the messages. MQTT keeps no backlog for a topic
    nobody subscribed to: open the source before anything is published.

Example::

    with open_sink("redis://127.0.0.1:6379/events") as sink:
        sink.publish([b'{"x": 1}'])
    with open_source("redis://127.0.0.1:6379/events", "scorers", "worker-1") as src:
        batch = src.read(500, timeout=1.0)
        src.ack(batch)
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast
from urllib.parse import SplitResult, parse_qs, urlsplit

from modelport.errors import InvalidInputError
from modelport.runtimes.stream.brokers.base import Message, Sink, Source, SourceInfo

__all__ = [
    "Message",
    "Sink",
    "Source",
    "SourceInfo",
    "dead_letter_url",
    "delete",
    "open_sink",
    "open_source",
    "schemes",
]

_SCHEMES = {
    "redis": "modelport.runtimes.stream.brokers.redis_streams",
    "nats": "modelport.runtimes.stream.brokers.jetstream",
    "mqtt": "modelport.runtimes.stream.brokers.mqtt_topics",
}


class Backend(Protocol):
    """What each adapter module provides; ``url`` is already split and checked for a scheme."""

    def open_source(self, url: SplitResult, group: str, consumer: str,
                    claim_after: float) -> Source: ...

    def open_sink(self, url: SplitResult) -> Sink: ...

    def dead_letter_url(self, url: SplitResult) -> str: ...

    def delete(self, url: SplitResult) -> None: ...


def schemes() -> list[str]:
    """The URL schemes a broker is registered for."""
    return sorted(_SCHEMES)


def open_source(url: str, group: str, consumer: str, claim_after: float = 30.0) -> Source:
    """Read ``url`` as ``consumer`` in consumer ``group``; messages left unacknowledged
    by a member idle for ``claim_after`` seconds are handed to another member."""
    if not group or not consumer:
        raise InvalidInputError("a stream source needs a consumer group and a consumer name")
    if claim_after <= 0:
        raise InvalidInputError(f"claim_after must be positive, got {claim_after}")
    backend, parts = _backend(url)
    return backend.open_source(parts, group, consumer, claim_after)


def open_sink(url: str) -> Sink:
    """Publish to ``url``."""
    backend, parts = _backend(url)
    return backend.open_sink(parts)


def dead_letter_url(url: str) -> str:
    """Where messages that keep failing go by default: ``STREAM.dead`` (Redis),
    ``SUBJECT.dead`` (NATS), ``TOPIC/dead`` (MQTT), on the same broker."""
    backend, parts = _backend(url)
    return backend.dead_letter_url(parts)


def delete(url: str) -> None:
    """Remove a stream's data (and its consumer groups) from the broker; for tests and
    benchmarks. Deleting what does not exist is not an error."""
    backend, parts = _backend(url)
    backend.delete(parts)


def _backend(url: str) -> tuple[Backend, SplitResult]:
    parts = urlsplit(url)
    module = _SCHEMES.get(parts.scheme)
    if module is None:
        raise InvalidInputError(
            f"unknown broker URL {url!r} — known schemes: "
            + ", ".join(f"{s}://" for s in schemes())
        )
    return cast(Backend, importlib.import_module(module)), parts


# Helpers shared by the adapters: they parse the same shapes of URL.

def path_name(parts: SplitResult, what: str, example: str) -> str:
    """The name after the host (stream, subject or topic); required."""
    name = parts.path.lstrip("/")
    if not name:
        raise InvalidInputError(
            f"broker URL {parts.geturl()!r} names no {what} — e.g. {example}"
        )
    return name


def query(parts: SplitResult) -> dict[str, str]:
    """Query parameters, last value wins."""
    return {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}


def int_param(params: dict[str, str], key: str, default: int | None, url: str) -> int | None:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{key}={raw!r} in {url!r} is not an integer") from None
    if value < 0:
        raise InvalidInputError(f"{key}={raw!r} in {url!r} must not be negative")
    return value


def address(parts: SplitResult, default_port: int) -> tuple[str, int]:
    """Host and port (defaults: 127.0.0.1 and the broker's usual port)."""
    try:
        port = parts.port or default_port
    except ValueError:
        raise InvalidInputError(f"bad port in broker URL {parts.geturl()!r}") from None
    return parts.hostname or "127.0.0.1", port
