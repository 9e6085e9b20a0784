"""``GET /api/v1/feed``: endpoint policies, rollout states and job progress as server-sent events.

One poller reads the store for every follower (``changes.Watcher``) and
publishes each change to every subscriber's bounded queue without ever
waiting: a follower whose queue is full — it stopped reading, or reads slower
than changes come — is dropped (its stream ends; it reconnects and resumes),
so no client can hold up the server or the others. Changes within one poll
(``POLL_S``) are coalesced: a follower sees the latest state, as a poller would.

A follower of one endpoint may also ask for ``stats``: that endpoint's live numbers
per version (``control.live``), read once a second for all its followers
together — one store read per watched endpoint, however many pages watch it.
They carry no event id and are not kept for resume: the next one is a second away.

Event ids are ``EPOCH-SEQ``: ``SEQ`` counts up, ``EPOCH`` names this server
process. A client that reconnects with ``Last-Event-ID`` gets what it missed
from the last ``HISTORY`` events; if that is no longer there (or the server
restarted) it gets one ``reset`` event: re-read the state, then follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio.to_thread
from litestar import Litestar, Request, Router, get
from litestar.datastructures import State
from litestar.params import FromQuery
from litestar.response import Stream

from modelport.core.store.base import Store
from modelport.core.store.projects import DEFAULT_PROJECT, Owners
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs, project_of
from modelport.interfaces.team.changes import Watcher

log = logging.getLogger("modelport.team")
KINDS = ("endpoint", "rollout", "job")
STATS = "stats"  # opt-in, for one endpoint: its live numbers every STATS_S
STATS_S = 1.0
POLL_S = 0.25
HISTORY = 1024  # events kept for Last-Event-ID resume
QUEUE = 256  # events a follower may lag behind before it is dropped
KEEPALIVE_S = 15.0  # a comment line so proxies and clients see the stream is alive
MAX_EVENT_ID = 64


@dataclass
class Event:
    seq: int
    kind: str
    endpoint: str | None  # the endpoint an endpoint or rollout event is about
    frame: bytes  # the event as sent: ``id``, ``event``, ``data`` lines
    project: str | None = None  # whose followers see it; None: every follower's (a reset)


@dataclass(eq=False)  # a follower is itself, not its contents: it sits in a set
class Subscriber:
    queue: asyncio.Queue[Event]
    dropped: bool = False
    backlog: list[Event] = field(default_factory=list)
    stats: str | None = None  # the endpoint whose live numbers it follows


class Feed:
    """The change hub: publish never blocks; subscribers are bounded queues."""

    def __init__(self, store: Store, poll_s: float = POLL_S, history: int = HISTORY,
                 queue: int = QUEUE,
                 live: Callable[[str], dict[str, object]] | None = None) -> None:
        self.watcher = Watcher(store)
        self.live = live  # an endpoint's live numbers, for the ``stats`` topic
        self.stats_at = 0.0
        self.poll_s = poll_s
        self.queue = queue
        self.epoch = uuid.uuid4().hex[:8]
        self.seq = 0
        self.history: deque[Event] = deque(maxlen=history)
        self.subscribers: set[Subscriber] = set()
        projects = getattr(store, "projects", None)  # a SQL store's; a test's may have none
        self.owners = Owners(projects) if projects is not None else None
        self.endpoint_projects: dict[str, str] = {}  # the last seen: a deleted one has none

    def project_of(self, kind: str, data: dict[str, object]) -> str:
        """The project a change is about (blocking: called in the poller's thread)."""
        if kind == "job":
            return str(data.get("project", DEFAULT_PROJECT))
        name = str(data.get("endpoint") if kind == "rollout" else data.get("name"))
        found = self.owners.of("endpoints", name) if self.owners else None
        project = found or self.endpoint_projects.get(name, DEFAULT_PROJECT)
        self.endpoint_projects[name] = project
        return project

    def _poll(self) -> list[tuple[str, dict[str, object], str]]:
        return [(kind, data, self.project_of(kind, data)) for kind, data in self.watcher.poll()]

    def publish(self, kind: str, data: dict[str, object], project: str = DEFAULT_PROJECT
                ) -> None:
        self.seq += 1
        body = json.dumps(data, separators=(",", ":"), default=str)
        frame = f"id: {self.epoch}-{self.seq}\nevent: {kind}\ndata: {body}\n\n".encode()
        about = data.get("endpoint") if kind == "rollout" else data.get("name")
        event = Event(self.seq, kind, about if isinstance(about, str) else None, frame, project)
        self.history.append(event)
        self._deliver(event, list(self.subscribers))

    def publish_stats(self, endpoint: str, data: dict[str, object]) -> None:
        """``endpoint``'s live numbers to its ``stats`` followers: no id, no history."""
        body = json.dumps(data, separators=(",", ":"), default=str)
        event = Event(self.seq, STATS, endpoint, f"event: {STATS}\ndata: {body}\n\n".encode())
        self._deliver(event, [s for s in self.subscribers if s.stats == endpoint])

    def _deliver(self, event: Event, subscribers: list[Subscriber]) -> None:
        for sub in subscribers:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.dropped = True
                self.subscribers.discard(sub)

    def subscribe(self, last_event_id: str | None, stats: str | None = None) -> Subscriber:
        """A new follower, given what it missed since ``last_event_id`` (if any); ``stats``
        names an endpoint whose live numbers it wants."""
        sub = Subscriber(asyncio.Queue(self.queue), backlog=self._since(last_event_id),
                         stats=stats)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    def _since(self, last_event_id: str | None) -> list[Event]:
        if last_event_id is None:
            return []
        epoch, _, seq = last_event_id.partition("-")
        oldest = self.history[0].seq if self.history else self.seq + 1
        if epoch == self.epoch and seq.isdigit() and oldest - 1 <= int(seq) <= self.seq:
            return [e for e in self.history if e.seq > int(seq)]
        frame = f"id: {self.epoch}-{self.seq}\nevent: reset\ndata: {{}}\n\n".encode()
        return [Event(self.seq, "reset", None, frame)]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll the store and publish until ``stop`` is set; a failed read is retried.
        Stopping waits for a read in flight (its connection goes back to the pool)."""
        while not stop.is_set():
            try:
                changes = await anyio.to_thread.run_sync(self._poll)
            except Exception as exc:  # the store is down for a moment: say so, keep going
                log.warning("change feed: reading the store failed: %s", exc)
                changes = []
            for kind, data, project in changes:
                self.publish(kind, data, project)
            await self._stats()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.poll_s)


    async def _stats(self) -> None:
        """Once every ``STATS_S``: each watched endpoint's numbers, read once for all."""
        if self.live is None or time.monotonic() - self.stats_at < STATS_S:
            return
        self.stats_at = time.monotonic()
        for endpoint in sorted({s.stats for s in self.subscribers if s.stats}):
            try:
                data = await anyio.to_thread.run_sync(self.live, endpoint)
            except Exception as exc:  # deleted meanwhile, or the store hiccups: next second
                log.debug("change feed: live numbers of %s: %s", endpoint, exc)
                continue
            self.publish_stats(endpoint, data)


@asynccontextmanager
async def polling(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan: the feed's poller runs while the server does."""
    stop = asyncio.Event()
    task = asyncio.create_task(app.state.feed.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def _kinds(topics: str | None) -> frozenset[str]:
    if topics is None:
        return frozenset(KINDS)
    asked = frozenset(t.strip() for t in topics.split(","))
    unknown = sorted(asked - {*KINDS, STATS})
    if unknown:
        raise InvalidInputError(f"unknown feed topic {unknown[0][:40]!r} — choose from "
                                f"{', '.join((*KINDS, STATS))}")
    return asked


async def _frames(feed: Feed, sub: Subscriber, kinds: frozenset[str],
                  endpoint: str | None, project: str) -> AsyncIterator[bytes]:
    def wanted(event: Event) -> bool:
        # a stats event goes only to its endpoint's followers, whose project was checked
        mine = event.kind == STATS or event.project == project
        return event.kind == "reset" or (event.kind in kinds and mine and (
            endpoint is None or event.endpoint == endpoint))

    try:
        yield b": following\n\n"  # headers and a first line now: the client knows it is in
        for event in sub.backlog:
            if wanted(event):
                yield event.frame
        while not sub.dropped:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if wanted(event):
                yield event.frame
    finally:
        feed.unsubscribe(sub)


@get("/", guards=[needs("read")], media_type="text/event-stream")
async def follow(request: Request, state: State, store: ProjectStore,  # type: ignore[type-arg]
                 topics: FromQuery[str | None] = None,
                 endpoint: FromQuery[str | None] = None) -> Stream:
    """Server-sent events: ``endpoint`` (a policy changed or the endpoint was deleted),
    ``rollout`` (a state or step moved), ``job`` (progress or an end), ``reset`` (resume
    impossible: re-read the state); ``stats`` (asked for by name, with ``endpoint``): the
    endpoint's live numbers each second — 404 for an endpoint that does not exist.
    ``topics`` picks kinds, ``endpoint`` one endpoint; only the request's project's changes
    are sent."""
    kinds = _kinds(topics)
    if STATS in kinds and endpoint is None:
        raise InvalidInputError("the stats topic follows one endpoint: add endpoint=NAME")
    last = request.headers.get("last-event-id")
    if last is not None and len(last) > MAX_EVENT_ID:
        raise InvalidInputError(f"Last-Event-ID is longer than {MAX_EVENT_ID} characters")
    feed: Feed = state.feed
    stats = endpoint if STATS in kinds else None
    if stats is not None and await anyio.to_thread.run_sync(
            store.endpoints.get_endpoint, stats) is None:  # off the loop: a store read
        raise NotFoundError(f"endpoint {stats!r} not found")
    sub = feed.subscribe(last, stats)
    project = project_of(store)
    return Stream(_frames(feed, sub, kinds, endpoint, project), media_type="text/event-stream",
                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


router = Router("/api/v1/feed", route_handlers=[follow], tags=["feed"])
