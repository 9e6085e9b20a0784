"""NATS JetStream: a durable pull consumer per group, behind a synchronous API.

nats-py is asyncio-only while the stream runner is a plain loop, so each
source or sink runs one event loop in a daemon thread and calls into it with
``run_coroutine_threadsafe``: one thread hop per batch, not per message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar
from urllib.parse import SplitResult

from modelport.errors import BrokerError, InvalidInputError, first_line, require
from modelport.runtimes.stream.brokers import address, path_name, query
from modelport.runtimes.stream.brokers.base import Message, Sink, Source, SourceInfo

nats = require("nats", "stream")
require("nats.js", "stream")
from nats.js import api as js_api  # noqa: E402  (after the friendly missing-extra check)
from nats.js.errors import NotFoundError  # noqa: E402

T = TypeVar("T")
_IO_TIMEOUT = 10.0  # a broker call that takes longer than this is a failure
_EXAMPLE = "nats://127.0.0.1:4222/events"
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]")  # stream and consumer names: no . * > or spaces
_ACK = b"+ACK"


class _Loop:
    """An event loop in a daemon thread; ``run`` blocks the caller until a coroutine ends."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever,
                                        name="modelport-nats", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self) -> None:
        async def cancel_rest() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_closed():
            return
        try:
            self.run(cancel_rest(), 5.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5.0)
            self.loop.close()


class _Target:
    """A parsed ``nats://`` URL: server, subject and the stream that stores it."""

    def __init__(self, parts: SplitResult) -> None:
        self.subject = path_name(parts, "subject", _EXAMPLE).replace("/", ".")
        self.host, self.port = host, port = address(parts, 4222)
        self.where = f"nats://{host}:{port}"
        params = query(parts)
        self.stream = params.get("stream") or _name(self.subject)
        if _BAD_NAME.search(self.stream):
            raise InvalidInputError(
                f"stream={self.stream!r} in {parts.geturl()!r}: a JetStream name may hold "
                "only letters, digits, '-' and '_'"
            )
        self.user = parts.username
        self.password = parts.password

    def fail(self, exc: BaseException) -> BrokerError:
        if isinstance(exc, (OSError, nats.errors.NoServersError, nats.errors.ConnectionClosedError,
                            concurrent.futures.TimeoutError, asyncio.TimeoutError)):
            return BrokerError(f"cannot reach NATS at {self.where} — is it running "
                               f"with JetStream enabled? ({first_line(exc)})")
        return BrokerError(f"NATS at {self.where} refused a request on subject "
                           f"{self.subject!r}: {first_line(exc)}")


def _name(subject: str) -> str:
    """A stream or consumer name derived from a subject or group: ``a.b`` → ``a_b``."""
    return _BAD_NAME.sub("_", subject.replace("*", "any").replace(">", "all"))


class _Client:
    """One connection, its event loop, and the stream covering the target subject."""

    def __init__(self, target: _Target, create_stream: bool = True) -> None:
        self.t = target
        self.io = _Loop()
        try:
            self.nc, self.js = self.call(self._connect(create_stream))
        except BaseException:
            self.io.stop()
            raise

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = _IO_TIMEOUT) -> T:
        try:
            return self.io.run(coro, timeout)
        except BrokerError:
            raise
        except (TimeoutError, nats.errors.Error, OSError, concurrent.futures.TimeoutError) as exc:
            raise self.t.fail(exc) from exc

    async def _connect(self, create_stream: bool) -> tuple[Any, Any]:
        async def quiet(_: Exception) -> None:  # errors surface as BrokerError, not logs
            return None

        # nats-py retries a first connection forever when reconnects are allowed (and
        # we want them, for later outages): knock once so a dead server fails fast.
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(self.t.host, self.t.port), 3.0)
        writer.close()
        await writer.wait_closed()
        nc = await nats.connect(
            servers=[self.t.where], user=self.t.user, password=self.t.password,
            connect_timeout=3, max_reconnect_attempts=-1, error_cb=quiet,
        )
        js = nc.jetstream(timeout=_IO_TIMEOUT)
        if not create_stream:
            return nc, js
        try:
            await js.find_stream_name_by_subject(self.t.subject)
        except NotFoundError:
            await js.add_stream(name=self.t.stream, subjects=[self.t.subject],
                                storage=js_api.StorageType.FILE)
        return nc, js

    def close(self) -> None:
        try:
            if not self.nc.is_closed:
                self.call(self.nc.close(), 5.0)
        finally:
            self.io.stop()


class NatsSource(Source):
    """A member of a durable pull consumer named after the group.

    All members fetch from the same consumer, so they split the messages; one
    left unacknowledged for ``ack_wait`` (= ``claim_after``) goes to whichever
    member fetches next — including this one after a restart.
    """

    def __init__(self, target: _Target, group: str, consumer: str, claim_after: float) -> None:
        self._c = _Client(target)
        self._durable = _name(group)
        config = js_api.ConsumerConfig(
            durable_name=self._durable, ack_policy=js_api.AckPolicy.EXPLICIT,
            deliver_policy=js_api.DeliverPolicy.ALL, ack_wait=claim_after,
            max_ack_pending=-1, filter_subject=target.subject,
        )
        try:
            self._stream = self._c.call(
                self._c.js.find_stream_name_by_subject(target.subject))
            self._sub = self._c.call(self._c.js.pull_subscribe(
                target.subject, durable=self._durable, stream=self._stream, config=config))
        except BaseException:
            self._c.close()
            raise

    def read(self, max_messages: int, timeout: float) -> list[Message]:
        return self._c.call(self._fetch(max_messages, max(timeout, 0.01)),
                            timeout + _IO_TIMEOUT)

    async def _fetch(self, count: int, timeout: float) -> list[Message]:
        try:
            msgs = await self._sub.fetch(batch=count, timeout=timeout)
        except TimeoutError:  # nothing arrived in time (nats' TimeoutError too)
            return []
        return [Message(m.reply, m.data, m.metadata.num_delivered > 1) for m in msgs]

    def ack(self, messages: Sequence[Message]) -> None:
        if messages:
            self._c.call(self._ack([m.id for m in messages]))

    async def _ack(self, subjects: list[str]) -> None:
        publish = self._c.nc.publish
        for s in subjects:
            await publish(s, _ACK)
        await self._c.nc.flush(_IO_TIMEOUT)

    def info(self) -> SourceInfo:
        ci = self._c.call(self._sub.consumer_info())
        return SourceInfo(lag=ci.num_pending, pending=ci.num_ack_pending)

    def close(self) -> None:
        # The durable consumer stays: it is the group's position in the stream.
        self._c.close()


class NatsSink(Sink):
    """Publishes a batch concurrently and returns once JetStream acknowledged all of it."""

    def __init__(self, target: _Target) -> None:
        self._c = _Client(target)
        self._subject = target.subject

    def publish(self, payloads: Sequence[bytes]) -> None:
        if payloads:
            self._c.call(self._publish(payloads), _IO_TIMEOUT + 5.0)

    async def _publish(self, payloads: Sequence[bytes]) -> None:
        # publish_async: one reply inbox for all, no per-message request task.
        js, subject = self._c.js, self._subject
        acks = [await js.publish_async(subject, p) for p in payloads]
        await asyncio.wait_for(asyncio.gather(*acks), _IO_TIMEOUT)  # an error raises

    def close(self) -> None:
        self._c.close()


def open_source(url: SplitResult, group: str, consumer: str, claim_after: float) -> Source:
    return NatsSource(_Target(url), group, consumer, claim_after)


def open_sink(url: SplitResult) -> Sink:
    return NatsSink(_Target(url))


def dead_letter_url(url: SplitResult) -> str:
    target = _Target(url)
    return url._replace(path="/" + target.subject + ".dead", query="").geturl()


def delete(url: SplitResult) -> None:
    target = _Target(url)
    client = _Client(target, create_stream=False)
    try:
        name = client.call(client.js.find_stream_name_by_subject(target.subject))
        client.call(client.js.delete_stream(name))
    except BrokerError as exc:
        if not isinstance(exc.__cause__, NotFoundError):
            raise
    finally:
        client.close()
