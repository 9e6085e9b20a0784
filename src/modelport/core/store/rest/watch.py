"""Endpoint and rollout changes pushed by ``modelport server``'s change feed.

A serving replica on a remote workspace re-reads its endpoints when the feed
says one changed, instead of asking the server 4×/s: one thread follows
``/api/v1/feed`` (``core/store/feed.follow``, which reconnects and resumes by
itself) and raises a flag the worker waits on. Every (re)connection raises it
too — what changed while no connection was open is re-read — and so does a
``reset`` (the server could not replay what was missed). ``RECONCILE_S`` bounds
what a lost event could ever cost: the worker re-reads at least that often.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from modelport.core.store.feed import READ_TIMEOUT_S, FeedError, end_stream, follow

log = logging.getLogger("modelport.feed")

RECONCILE_S = 30.0
TOPICS = ["endpoint", "rollout"]


class FeedWatch:
    """A ``Watch`` (``core/store/endpoints``) on a server's change feed."""

    pushed = True

    def __init__(self, url: str, token: str | None, reconcile_s: float = RECONCILE_S) -> None:
        self.reconcile_s = reconcile_s
        self.changed = threading.Event()
        self.changed.set()  # the first wait reads everything
        self.last_read = time.monotonic()
        self.closed = False
        self.response: httpx.Response | None = None  # the stream being read
        self.client = httpx.Client(timeout=httpx.Timeout(10.0, read=READ_TIMEOUT_S))
        self.thread = threading.Thread(target=self._follow, args=(url, token),
                                       name="modelport-feed", daemon=True)
        self.thread.start()

    def _follow(self, url: str, token: str | None) -> None:
        try:
            for _event in follow(url, token, topics=TOPICS, client=self.client,
                                 on_connect=self._connected):
                self.changed.set()
        except FeedError as exc:  # a key without read scope: say so, keep reconciling
            log.error("%s — endpoints are re-read every %.0f s instead", exc, self.reconcile_s)
        except Exception:
            if not self.closed:
                log.exception("following the change feed failed; endpoints are re-read "
                              "every %.0f s instead", self.reconcile_s)

    def _connected(self, response: httpx.Response) -> None:
        self.response = response
        self.changed.set()

    def wait(self, timeout: float) -> bool:
        due = self.last_read + self.reconcile_s - time.monotonic()
        if not self.changed.wait(max(0.0, min(timeout, due))) and due > timeout:
            return False
        self.changed.clear()
        self.last_read = time.monotonic()
        return True

    def close(self) -> None:
        self.closed = True
        if self.response is not None:
            end_stream(self.response)  # the follower's read fails and its thread ends
        self.client.close()
