"""The studies' journal contract, on every store implementation and database: numbered
from 0 without gaps, in append order, also when workers append at once."""

from __future__ import annotations

import threading

import pytest

from modelport.config import Settings
from modelport.core.store import Store
from modelport.core.store.rest import RestStore
from modelport.core.store.studies import MAX_READ
from modelport.errors import InvalidInputError
from team_server import team_server


def test_entries_come_back_in_order_from_any_number(store: Store) -> None:
    journal = store.studies
    assert journal.read_journal(0) == []
    journal.append_journal([{"op": 0, "a": [1, 2]}, {"op": 1}])
    journal.append_journal([])
    journal.append_journal([{"op": 2, "nested": {"x": None}}])
    assert journal.read_journal(0) == [{"op": 0, "a": [1, 2]}, {"op": 1},
                                       {"op": 2, "nested": {"x": None}}]
    assert journal.read_journal(1, limit=1) == [{"op": 1}]
    assert journal.read_journal(3) == []


def test_appends_at_once_are_numbered_one_after_another(store: Store) -> None:
    def append(worker: int) -> None:
        for i in range(10):
            store.studies.append_journal([{"w": worker, "i": i, "part": p} for p in (0, 1)])

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = store.studies.read_journal(0)
    assert len(entries) == 80
    # each append stays whole and in order; each worker's appends keep their order
    assert all(entries[k]["part"] == 0 and entries[k + 1] == {**entries[k], "part": 1}
               for k in range(0, 80, 2))
    for worker in range(4):
        assert [e["i"] for e in entries if e["w"] == worker and e["part"] == 0] == \
            list(range(10))


@pytest.mark.storage_independent
def test_the_server_refuses_a_bad_read_or_append(settings: Settings) -> None:
    with team_server(settings) as (url, token):
        rest = RestStore(url, token)
        try:
            for start, limit in ((-1, 10), (0, 0), (0, MAX_READ + 1)):
                with pytest.raises(InvalidInputError, match="start must be 0 or more"):
                    rest.api.call("GET", "/studies/journal", start=start, limit=limit)
            with pytest.raises(InvalidInputError, match="entries"):
                rest.api.call("POST", "/studies/journal", {"entries": "nope"})
            with pytest.raises(InvalidInputError, match="no store can keep"):
                rest.studies.append_journal([{"bad": "\x00"}])
            assert rest.studies.read_journal(0) == []
        finally:
            rest.close()
