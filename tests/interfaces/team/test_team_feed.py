"""The change feed: a real server, a real httpx stream, resume, slow followers, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from modelport.config import Settings
from modelport.core.store.feed import FeedError, FeedEvent, events, follow, lines
from modelport.core.store.jobs import JobRecord
from modelport.core.store.rest.watch import FeedWatch
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.interfaces.team.feed import Feed
from team_server import team_server

POLICY = {"routes": [{"model": "iris", "version": 1, "weight": 100}]}


def job(job_id: str) -> JobRecord:
    return JobRecord(id=job_id, kind="predict", model="iris", version=1, status="running",
                     input="in.csv", input_digest=None, output="out.csv", options={}, rows=0,
                     rows_failed=0, parts=0, error=None, started=1.0, ended=None,
                     duration=None)


def next_event(stream: Iterator[FeedEvent], timeout: float = 10.0) -> FeedEvent:
    deadline = time.monotonic() + timeout
    event = next(stream)
    assert time.monotonic() < deadline, "the feed took too long"
    return event


def test_a_follower_sees_policies_and_job_progress_and_resumes_what_it_missed(
        settings: Settings, ws: Workspace) -> None:
    endpoints = ws.store.endpoints
    with team_server(settings) as (url, key), httpx.Client(timeout=10) as http:
        with http.stream("GET", f"{url}/api/v1/feed", params={"endpoint": "fraud"},
                         headers={"Authorization": f"Bearer {key}"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            raw = lines(response.iter_bytes())
            assert next(raw) == b": following"  # subscribed: what happens now is seen
            endpoints.create_endpoint("other", POLICY, 1.0)  # another endpoint: filtered out
            endpoints.create_endpoint("fraud", POLICY, 1.0)
            stream = events(raw)
            created = next_event(stream)
            assert (created.kind, created.data["name"], created.data["revision"]) == \
                ("endpoint", "fraud", 1)
            endpoints.set_policy("fraud", {**POLICY, "shadow": []}, 2.0)
            changed = next_event(stream)
            assert changed.data["revision"] == 2 and changed.data["policy"]["shadow"] == []
        endpoints.set_policy("fraud", POLICY, 3.0)  # while nobody follows
        time.sleep(0.6)  # two polls: the server has seen it (changes within one coalesce)
        endpoints.delete_endpoint("fraud")
        time.sleep(0.6)
        resumed = follow(url, key, endpoint="fraud", last_event_id=created.id)
        try:
            assert [next_event(resumed).data.get("revision") for _ in range(2)] == [2, 3]
            assert next_event(resumed).data == {"name": "fraud", "deleted": True}
        finally:
            resumed.close()

        jobs = follow(url, key, topics=["job"], last_event_id="0-0")  # not this server's id
        try:
            assert next_event(jobs).kind == "reset"  # re-read the state, then follow
            ws.store.jobs.create_job(job("j1"))
            assert next_event(jobs).data["rows"] == 0
            ws.store.jobs.set_progress("j1", 500, 2, 1)
            progress = next_event(jobs).data
            assert (progress["id"], progress["rows"], progress["rows_failed"]) == ("j1", 500, 2)
            ws.store.jobs.finish_job("j1", "succeeded", None, 9.0, 8.0, {"rows": 600})
            ended = next_event(jobs).data
            assert (ended["status"], ended["rows"]) == ("succeeded", 600)
        finally:
            jobs.close()


@pytest.mark.storage_independent
def test_a_closed_watch_lets_the_server_stop_at_once(settings: Settings) -> None:
    """Closing a replica's feed watch ends its read: the server is not left holding the
    stream until its next keepalive (15 s) — a stopping server would wait for it."""
    with team_server(settings) as (url, key):
        watch = FeedWatch(url, key)
        assert watch.wait(5.0)
        deadline = time.monotonic() + 5.0
        while watch.response is None and time.monotonic() < deadline:
            time.sleep(0.05)  # connected: the server holds the stream
        assert watch.response is not None
        watch.close()
        watch.thread.join(2.0)
        assert not watch.thread.is_alive()
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5.0


@pytest.mark.storage_independent
def test_the_feed_refuses_bad_keys_topics_and_ids(settings: Settings, ws: Workspace) -> None:
    with team_server(settings) as (url, key):
        with pytest.raises(FeedError, match="401 an API key is required"):
            next(follow(url, None))
        with pytest.raises(FeedError, match="unknown feed topic 'runs'"):
            next(follow(url, key, topics=["runs"]))
        response = httpx.get(f"{url}/api/v1/feed", headers={
            "Authorization": f"Bearer {key}", "Last-Event-ID": "x" * 65})
        assert (response.status_code, response.json()["code"]) == (400, "invalid_input")


def test_a_slow_follower_is_dropped_and_holds_up_no_one(ws: Workspace) -> None:
    async def scenario() -> None:
        feed = Feed(ws.store, queue=4)
        slow, fast = feed.subscribe(None), feed.subscribe(None)
        got = []
        for i in range(10):
            feed.publish("job", {"id": f"j{i}"})  # never awaits: publishing cannot block
            got.append(fast.queue.get_nowait())
        assert slow.dropped and slow not in feed.subscribers
        assert [e.seq for e in got] == list(range(1, 11)) and fast in feed.subscribers

    asyncio.run(scenario())


def test_resume_replays_what_history_holds_else_resets(ws: Workspace) -> None:
    async def scenario() -> None:
        feed = Feed(ws.store, history=3)
        for i in range(5):
            feed.publish("endpoint", {"name": f"e{i}"})
        replay = feed.subscribe(f"{feed.epoch}-2").backlog
        assert [e.seq for e in replay] == [3, 4, 5]
        assert feed.subscribe(f"{feed.epoch}-5").backlog == []
        for stale in (f"{feed.epoch}-1", "deadbeef-4", f"{feed.epoch}-99", "junk"):
            assert [e.kind for e in feed.subscribe(stale).backlog] == ["reset"]

    asyncio.run(scenario())


def test_the_stream_parser_is_bounded_and_takes_every_line_ending() -> None:
    chunks = [b"id: a-1\r", b"\nevent: job\rdata: {\"x\"", b": 1}\n\n: comment\n",
              b"data: [1]\n\n"]
    with pytest.raises(InvalidInputError, match="data is not a JSON object"):
        list(events(lines(iter(chunks))))
    assert next(events(lines(iter(chunks)))) == FeedEvent("a-1", "job", {"x": 1})
    with pytest.raises(InvalidInputError, match="longer than 16 bytes"):
        list(lines(iter([b"x" * 10, b"y" * 10]), limit=16))
