"""``--every``: one piece of work now and then at an interval, a fixed number of times or until
stopped — the schedule ``retrain`` and ``monitor --on-drift`` share.

The interval runs from the end of one turn to the start of the next, so a slow turn never
overlaps the next one. ``sleep`` is the clock (tests pass a fake one; the work stays real).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from modelport.errors import InvalidInputError

T = TypeVar("T")


def repeat(turn: Callable[[], T], interval: float, *, times: int | None = None,
           on_each: Callable[[T], None] | None = None,
           sleep: Callable[[float], None] = time.sleep) -> list[T]:
    """``turn()`` now and then every ``interval`` seconds; each result to ``on_each``."""
    if not interval > 0:
        raise InvalidInputError(f"the interval must be positive, got {interval}")
    if times is not None and times < 1:
        raise InvalidInputError(f"times must be at least 1, got {times}")
    results: list[T] = []
    while True:
        results.append(turn())
        if on_each is not None:
            on_each(results[-1])
        if times is not None and len(results) >= times:
            return results
        sleep(interval)
