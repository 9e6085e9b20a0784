"""``/api/v1/studies``: the studies' journal, so tune workers anywhere join one study.

Optuna's ``JournalStorage`` on each worker reads the entries it has not seen and
appends its own (``core/store/studies``); the server numbers appends one after
another, so every worker replays the same history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody

from modelport.core.store.studies import MAX_READ
from modelport.errors import InvalidInputError
from modelport.interfaces.team.access import needs
from modelport.interfaces.team.inputs import storable, storable_request

MAX_APPEND = 10_000  # entries in one append (a worker appends a handful at a time)


@dataclass
class Entries:
    entries: list[dict[str, Any]]


@get("/journal", guards=[needs("read")], sync_to_thread=True)
def read_journal(state: State, start: FromQuery[int] = 0, limit: FromQuery[int] = MAX_READ
                 ) -> list[dict[str, Any]]:
    """Entries from number ``start`` (0: the first) on, at most ``limit``, in order."""
    if start < 0 or not 0 < limit <= MAX_READ:
        raise InvalidInputError(f"start must be 0 or more and limit 1 to {MAX_READ:,}")
    return state.store.studies.read_journal(start, limit)  # type: ignore[no-any-return]


@post("/journal", guards=[needs("write")], status_code=204, sync_to_thread=True)
def append_journal(state: State, data: JSONBody[Entries]) -> None:
    """Append entries at the end of the journal, together and in their order."""
    if len(data.entries) > MAX_APPEND:
        raise InvalidInputError(f"at most {MAX_APPEND:,} journal entries per append")
    storable(data)
    state.store.studies.append_journal(data.entries)


router = Router("/api/v1/studies", route_handlers=[read_journal, append_journal],
                tags=["studies"], before_request=storable_request)
