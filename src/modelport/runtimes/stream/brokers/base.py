"""What the stream runtime needs from a broker: a ``Source`` and a ``Sink``.

Every broker here is at-least-once: a message read but not acknowledged is
delivered again — to this consumer after a restart, or to another consumer of
the same group once it has been idle for ``claim_after`` seconds. The stream
runner acknowledges only after the prediction is published (and, when it
learns, after the model state that used the message is checkpointed), so
processing is made idempotent by event id rather than by broker promises.

Backends are chosen by URL scheme (``redis://``, ``nats://``, ``mqtt://``);
see ``brokers/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self


@dataclass(slots=True)  # not frozen: one is built per message, and frozen costs 3× more
class Message:
    """One delivery. ``id`` is the broker's handle for acknowledging it (a Redis
    entry id, a JetStream reply subject, an MQTT packet id) — not a key to
    de-duplicate on: MQTT packet ids are reused across connections; events carry
    their own ids for that. ``redelivered`` is true when the broker has handed
    it out before."""

    id: str
    data: bytes
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Backlog of a consumer group, for ``modelport stream status``; ``None``
    where the broker cannot tell."""

    lag: int | None  # messages not yet delivered to the group
    pending: int | None  # delivered to the group, not yet acknowledged


class _Closable(ABC):
    """Sources and sinks hold connections: use them in ``with`` blocks."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class Source(_Closable):
    """Reads one stream as a member of a consumer group."""

    @abstractmethod
    def read(self, max_messages: int, timeout: float) -> list[Message]:
        """Up to ``max_messages``, waiting at most ``timeout`` seconds for the first.

        Returns, in order of preference: this consumer's own unacknowledged
        messages (after a restart), messages of other consumers idle longer than
        ``claim_after`` (a dead consumer's), then new messages in stream order.
        """

    @abstractmethod
    def ack(self, messages: Sequence[Message]) -> None:
        """Mark messages processed; they are never delivered to the group again."""

    @abstractmethod
    def info(self) -> SourceInfo: ...


class Sink(_Closable):
    """Publishes to one stream, topic or subject."""

    @abstractmethod
    def publish(self, payloads: Sequence[bytes]) -> None:
        """Returns once the broker has accepted every payload (so the caller may
        acknowledge what produced them); raises ``BrokerError`` otherwise."""
