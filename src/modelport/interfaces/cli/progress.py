"""Feedback while a long command works, on stderr so ``--json`` on stdout stays clean.

A command reports what it is doing with ``say(message)``. A message ``STEP: detail``
updates the detail of the current step (``knn: trial 7``); any other step name
starts a new step. Each finished step gets its own line, ``✓ step (2.1 s)``, so
the durations add up instead of reading as one cumulative clock.

On a terminal the current step is a rich spinner. Elsewhere (a CI log, a pipe)
a spinner shows nothing, so a plain line with the current message and how long
the step has run is printed every ``HEARTBEAT`` seconds instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape

from modelport.interfaces.cli.render import errors

HEARTBEAT = 5.0  # seconds between plain progress lines off a terminal


class Steps:
    """The steps of one command: ``say`` reports, ``close`` ticks off the last one.

    Thread-safe: a worker thread may ``say`` while the heartbeat prints.
    """

    def __init__(self, first: str, out: Console = errors, every: float | None = None) -> None:
        self.out = out
        self.every = every or HEARTBEAT
        self.message = first
        self.started = self.shown = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._status: Any = None
        if out.is_terminal:
            self._status = out.status(escape(first))
            self._status.start()
        else:
            threading.Thread(target=self._beat, name="modelport-progress", daemon=True).start()

    def say(self, message: str) -> None:
        with self._lock:
            if _step(message) != _step(self.message):
                self._tick()
                self.started = time.monotonic()
            self.message = message
            if self._status is not None:
                self._status.update(escape(message))

    def close(self, finished: bool = True) -> None:
        """Stop the spinner or heartbeat; tick off the last step when it finished."""
        self._stop.set()
        with self._lock:
            if self._status is not None:
                self._status.stop()
            if finished:
                self._tick()

    def _tick(self) -> None:
        self.shown = time.monotonic()
        seconds = self.shown - self.started
        self.out.print(f"[green]✓[/green] {escape(self.message)} ({seconds:.1f} s)",
                       soft_wrap=True)

    def _beat(self) -> None:
        # a line once nothing was printed for `every` seconds: a short step prints only its ✓
        while not self._stop.wait(self.every / 10):
            with self._lock:
                now = time.monotonic()
                if self._stop.is_set() or now - self.shown < self.every:
                    continue
                self.shown = now
                self.out.print(f"… {escape(self.message)} ({now - self.started:.0f} s)",
                               soft_wrap=True)


def _step(message: str) -> str:
    return message.partition(": ")[0]


@contextmanager
def steps(first: str, *, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Report a long command's steps (see the module docstring); silent when ``quiet``."""
    if quiet:
        yield lambda _message: None
        return
    reporter = Steps(first)
    finished = False
    try:
        yield reporter.say
        finished = True
    finally:
        reporter.close(finished)
