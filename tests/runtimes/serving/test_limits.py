"""Rate limits per key per server: one token-bucket table shared by worker processes."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from modelport.runtimes.serving.limits import Buckets


def _spend_many(buckets: Buckets, key_id: str, rate: float, tries: int, out: Any) -> None:
    out.put(sum(buckets.spend(key_id, rate) == 0.0 for _ in range(tries)))


def test_processes_spend_from_one_bucket_per_key() -> None:
    context = multiprocessing.get_context("spawn")
    buckets = Buckets()
    out = context.Queue()
    started = time.monotonic()
    workers = [context.Process(target=_spend_many, args=(buckets, "ab12cd34", 5.0, 200, out))
               for _ in range(3)]
    for w in workers:
        w.start()
    granted = sum(out.get(timeout=60) for _ in workers)
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    # one burst of 5 and 5 a second for all three processes together (per process: 3x that)
    assert 5 <= granted <= 5 + 5 * elapsed + 1, (granted, elapsed)
    assert buckets.spend("ab12cd34", 5.0) > 0  # the bucket the children drained is this one


def test_keys_have_their_own_buckets_and_refill() -> None:
    buckets = Buckets(slots=8)
    assert [buckets.spend("k1", 2.0) for _ in range(2)] == [0.0, 0.0]
    wait = buckets.spend("k1", 2.0)
    assert 0 < wait <= 0.5
    assert buckets.spend("k2", 2.0) == 0.0  # another key is untouched
    time.sleep(wait + 0.01)
    assert buckets.spend("k1", 2.0) == 0.0
    full = Buckets(slots=2)  # more keys than slots: shared buckets, stricter never looser
    assert [full.spend(k, 1.0) == 0.0 for k in ("a", "b", "c")].count(True) <= 2
