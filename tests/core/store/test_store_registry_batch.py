"""Registering many versions in one call (``create_versions``), on every store and database:
one transaction — all or none — numbered as single registrations are, even beside them."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from test_store_registry import new

from modelport.core.store import Store
from modelport.core.store.registry import MAX_BATCH, Registration
from modelport.errors import ConflictError, InvalidInputError, TooLargeError


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_batch_is_numbered_in_order_and_read_back(store: Store) -> None:
    repo = store.registry
    assert repo.create_version("store-1", new(), {}, now=1.0) == 1
    batch = [Registration("store-1", new(description="b1"), {"shop": "1"}),
             Registration("store-2", new(description="b2"), {}),
             Registration("store-1", new(description="b3"), {"shop": "1", "k": "v"})]
    assert repo.create_versions(batch, now=5.0) == [2, 1, 3]  # one model's: consecutive
    got = repo.get_version("store-1", 3)
    assert got == {**new(description="b3"), "name": "store-1", "version": 3, "onnx": None,
                   "created": 5.0, "aliases": [], "tags": {"shop": "1", "k": "v"}}
    assert repo.get_version("store-2", 1)["description"] == "b2"
    assert repo.create_version("store-2", new(), {}, now=6.0) == 2  # numbering goes on
    assert {m.name: (m.versions, m.latest_version, m.created, m.updated)
            for m in repo.list_models()} == {"store-1": (3, 3, 1.0, 5.0),
                                              "store-2": (2, 2, 5.0, 6.0)}
    assert repo.create_versions([], now=7.0) == []


def test_a_batchs_blobs_are_its_projects(store: Any) -> None:
    """The blob ownership rows a single registration writes (``blob_owners``): a project
    reads the artifacts, samples and profiles its batch named, and no other does."""
    vision = store.in_project("vision")
    blobs = [_digest(f"blob {i}") for i in range(3)]
    vision.registry.create_versions([
        Registration("m1", new(blobs[0], sample_digest=blobs[1]), {}),
        Registration("m2", new(blobs[0], sample_digest=None, profile_digest=blobs[2]), {})],
        now=1.0)
    assert vision.registry.referenced_digests(blobs) == set(blobs)
    if hasattr(store, "inner"):  # on SQL: the rows themselves (over REST: the auth matrix)
        owners = store.inner.projects.artifact_owners
        assert owners(blobs[0]) == {("models", "m1", "vision"), ("models", "m2", "vision")}
        assert owners(blobs[2]) == {("models", "m2", "vision")}
        assert all(vision.sees_artifact(b) and not store.sees_artifact(b) for b in blobs)
    if hasattr(vision, "close"):
        vision.close()


@pytest.mark.parametrize("bad", ["value", "foreign"])
def test_one_bad_item_registers_nothing(store: Any, bad: str) -> None:
    """Attack: a batch whose last item the store refuses — a value no store keeps, or a
    model of another project — must leave no model, version, tag, blob or number behind."""
    repo = store.registry
    vision = store.in_project("vision")
    vision.registry.create_version("theirs", new(), {}, now=1.0)
    repo.create_version("kept", new(), {}, now=1.0)
    last = Registration("theirs", new(), {}) if bad == "foreign" else \
        Registration("fresh", new(artifact_size=2**70), {})
    batch = [Registration("kept", new(_digest("x")), {"t": "1"}),
             Registration("fresh", new(_digest("y")), {}), last]
    error = ConflictError if bad == "foreign" else InvalidInputError
    with pytest.raises(error, match="taken" if bad == "foreign" else "refused|invalid"):
        repo.create_versions(batch, now=2.0)
    assert [m.name for m in repo.list_models()] == ["kept"]
    assert [(v["version"], v["tags"]) for v in repo.list_versions("kept")] == [(1, {})]
    assert repo.referenced_digests([_digest("x"), _digest("y")]) == set()
    assert repo.create_version("kept", new(), {}, now=3.0) == 2  # no number was spent
    assert [v["version"] for v in vision.registry.list_versions("theirs")] == [1]
    if hasattr(vision, "close"):
        vision.close()


def test_a_batch_past_the_limit_is_refused_whole(store: Store) -> None:
    batch = [Registration(f"m{i % 3}", new(), {}) for i in range(MAX_BATCH + 1)]
    with pytest.raises(TooLargeError, match=f"at most {MAX_BATCH} versions"):
        store.registry.create_versions(batch, now=1.0)
    assert store.registry.list_models() == []
    assert len(store.registry.create_versions(batch[:MAX_BATCH], now=1.0)) == MAX_BATCH


def test_another_projects_model_is_refused_as_a_name_taken(store: Any) -> None:
    """A project registering into a model of another one learns only what a single
    registration tells: the name is taken — not whose it is, nor what it holds."""
    vision = store.in_project("vision")
    store.registry.create_version("theirs", new(), {"secret": "x"}, now=1.0)
    refusals = []
    for call in (lambda: vision.registry.create_version("theirs", new(), {}, now=2.0),
                 lambda: vision.registry.create_versions(
                     [Registration("theirs", new(), {})], now=2.0)):
        with pytest.raises(ConflictError) as caught:
            call()
        refusals.append(str(caught.value))
    assert refusals[0] == refusals[1] and "default" not in refusals[1]
    assert vision.registry.list_models() == []
    assert [v["version"] for v in store.registry.list_versions("theirs")] == [1]
    if hasattr(vision, "close"):
        vision.close()


def test_batches_and_single_registrations_at_once_share_no_number(store: Store) -> None:
    """Threads registering one by one and in batches into the same models: every number
    once, none skipped, and a batch's versions of one model consecutive."""
    threads, rounds, models = 6, 4, ("a", "b", "c")
    got: dict[str, list[int]] = defaultdict(list)
    runs: list[list[int]] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def register(k: int) -> None:
        start.wait()
        for r in range(rounds):
            if k % 2:  # one by one
                name = models[(k + r) % 3]
                number = store.registry.create_version(name, new(), {}, now=time.time())
                with lock:
                    got[name].append(number)
                continue
            names = [models[(k + r + i) % 3] for i in range(5)]  # a, b, c, a, b
            numbers = store.registry.create_versions(
                [Registration(n, new(), {}) for n in names], now=time.time())
            with lock:
                for name, number in zip(names, numbers, strict=True):
                    got[name].append(number)
                runs.extend([[n for m, n in zip(names, numbers, strict=True) if m == name]
                             for name in set(names)])

    workers = [threading.Thread(target=register, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for name in models:
        assert sorted(got[name]) == list(range(1, len(got[name]) + 1)), name
    assert sum(map(len, got.values())) == (threads // 2) * rounds * 6
    assert all(run == list(range(run[0], run[0] + len(run))) for run in runs)
