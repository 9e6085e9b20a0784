"""Reading a request body into a model's matrix: the client's failure, never the server's.

Every protocol parses its body into a batch (``fn``), and the model's signature
turns the batch into a checked matrix. Whatever goes wrong in those two steps
is about the input, so it is answered 4xx naming the problem — values that do
not fit (``ValueError``, ``TypeError``…) are 422, anything else 400 — while an
error in *prediction* stays a server error. Bodies small enough to read in well
under a millisecond are read on the event loop; larger ones on a small pool of
parse threads with a deadline, so no request holds the loop (health probes and
other clients keep being answered while one worker reads a hostile body).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from modelport.errors import InvalidInputError, ModelportError, SchemaError, first_line
from modelport.runtimes.serving.served import Served

log = logging.getLogger("modelport.serve")

INLINE_BYTES = 64 * 1024  # bodies up to this are read on the loop (orjson: ~0.1 ms)
DEADLINE_S = 10.0  # a body not read within this is refused (413)
PARSE_THREADS = 2  # bounded: hostile bodies cannot take every thread of the process

T = TypeVar("T")
Parse = Callable[..., tuple[Any, T]]  # (batch, what the renderer needs) from a body

_executor: ThreadPoolExecutor | None = None


class ParseTimeoutError(ModelportError):
    """A body that took too long to read: too much work for one request, so the client's."""

    code = "parse_timeout"
    status = 413


def read_now(served: Served, fn: Parse[T], args: tuple[Any, ...]
             ) -> tuple[np.ndarray, Any, T]:
    """``fn(*args)`` then the signature's check: (matrix, batch, context), or a 4xx.
    (``InferenceService.infer`` runs the same two steps inline for small bodies, one call
    less on the hot path, and answers their failures with ``client_error``.)"""
    try:
        batch, context = fn(*args)
        x = served.predictor.matrix(batch)
    except Exception as exc:
        raise client_error(served, exc) from None
    return rows(x), batch, context


def client_error(served: Served, exc: Exception) -> ModelportError:
    """What went wrong reading a body, as the client's error: values that do not fit are
    422, a parser's surprise (still about the body it was given) 400."""
    if isinstance(exc, ModelportError):
        return exc
    if isinstance(exc, ValueError | TypeError | ArithmeticError):
        return SchemaError(f"the input does not fit model {served.name!r}: {first_line(exc)}")
    log.debug("request parse failed with %s", type(exc).__name__, exc_info=exc)
    return InvalidInputError(f"cannot read the request: {type(exc).__name__}: "
                             f"{first_line(exc)}")


def rows(x: np.ndarray) -> np.ndarray:
    """``x``, unless it has no rows: a request must ask for at least one prediction."""
    if len(x) == 0:
        raise InvalidInputError("the request has no rows")
    return x


async def read_off_loop(served: Served, fn: Parse[T], args: tuple[Any, ...]
                        ) -> tuple[np.ndarray, Any, T]:
    """``read_now`` on a parse thread, with a deadline — for bodies over ``INLINE_BYTES``.

    A thread that passes the deadline cannot be stopped; it finishes alone while the
    client gets its 413 — which is why the pool is small and each parser's worst case
    is bounded up front (the CSV header width, orjson's nesting limit)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="modelport-parse")
    future = asyncio.get_running_loop().run_in_executor(_executor, read_now, served, fn, args)
    try:
        return await asyncio.wait_for(future, DEADLINE_S)
    except TimeoutError:
        raise ParseTimeoutError(f"the request body was not read within {DEADLINE_S:g} s — "
                                "send smaller batches") from None
