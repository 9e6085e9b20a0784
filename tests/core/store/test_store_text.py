"""Text a database cannot keep is the caller's mistake on every store, never a crash."""

from __future__ import annotations

import pytest

from modelport.core.store import Store
from modelport.core.store.keys import KeyRecord
from modelport.core.store.text import storable
from modelport.errors import InvalidInputError


def test_a_lone_surrogate_is_invalid_input(store: Store) -> None:
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        store.streams.start_stream("clicks\ud800", "c1", "m:1", {}, now=1.0)
    assert store.streams.list_streams(None) == []


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_nul_the_database_refuses_is_invalid_input(store: Store) -> None:
    key = KeyRecord(id="k1", name="app\x00", scopes=["read"], models=None, rate_limit=None,
                    created=1.0, revoked=None)
    before = store.keys.list_keys(include_revoked=True)  # a server's own admin key
    with pytest.raises(InvalidInputError, match=r"the store refused a value|no store can keep"):
        store.keys.create_key(key, "d" * 64)
    assert store.keys.list_keys(include_revoked=True) == before


@pytest.mark.parametrize(("text", "ok"), [("plain é 漢", True), ("a\x00b", False),
                                          ("\ud800", False), ("", True)])
def test_storable(text: str, ok: bool) -> None:
    assert storable(text) is ok
