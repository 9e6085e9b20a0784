"""The keys repository's contract, on every store implementation and database."""

from __future__ import annotations

import pytest

from modelport.core.store import Store
from modelport.core.store.keys import KeyRecord
from modelport.errors import ConflictError


def key(key_id: str, created: float, **changes: object) -> KeyRecord:
    record = KeyRecord(id=key_id, name=f"app {key_id}", scopes=["predict", "read"],
                       models=["iris"], rate_limit=5.0, created=created, revoked=None,
                       projects=["vision"])
    record.update(changes)  # type: ignore[typeddict-item]
    return record


def test_keys_are_stored_by_digest_and_revoked(store: Store) -> None:
    keys = store.keys
    before = keys.active_keys_by_digest()  # a server's store already holds its admin key
    keys.create_key(key("k2", 2.0), "d2" * 32)
    keys.create_key(key("k1", 1.0, models=None, rate_limit=None, projects=None), "d1" * 32)
    assert [k["id"] for k in keys.list_keys(include_revoked=False)][:2] == ["k1", "k2"]
    assert keys.active_keys_by_digest() == {**before, "d1" * 32: key("k1", 1.0, models=None,
                                                           rate_limit=None, projects=None),
                                            "d2" * 32: key("k2", 2.0)}
    assert keys.revoke_key("k2", now=3.0)
    assert not keys.revoke_key("k2", now=4.0)  # already revoked: nothing to do
    assert not keys.revoke_key("nope", now=4.0)
    assert sorted(keys.active_keys_by_digest()) == sorted(["d1" * 32, *before])
    assert keys.list_keys(include_revoked=True)[1] == key("k2", 2.0, revoked=3.0)


def test_a_digest_names_one_key(store: Store) -> None:
    before = store.keys.active_keys_by_digest()
    store.keys.create_key(key("k1", 1.0), "d" * 64)
    with pytest.raises(ConflictError, match="already exists"):
        store.keys.create_key(key("k2", 2.0), "d" * 64)
    assert [k["id"] for k in store.keys.list_keys(include_revoked=True)][:1] == ["k1"]
    assert len(store.keys.list_keys(include_revoked=True)) == 1 + len(before)
