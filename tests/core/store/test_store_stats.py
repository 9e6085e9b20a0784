"""The statistics repository's contract, on every store implementation and database."""

from __future__ import annotations

from modelport.core.store import Store
from modelport.core.store.stats import StatsRow


def row(worker: str, window: float, version: str = "iris:1", **data: object) -> StatsRow:
    return StatsRow(endpoint="api", version=version, worker=worker, window=window,
                    data=dict(data))


def test_windows_are_written_replaced_and_forgotten(store: Store) -> None:
    stats = store.stats
    stats.write_windows([row("w1", 10.0, requests=1), row("w1", 11.0, requests=2),
                         row("w2", 10.0, "iris:2", requests=5)], "w1", forget_before=0.0)
    stats.write_windows([row("w1", 11.0, requests=7)], "w1", forget_before=0.0)  # replaced
    got = sorted(stats.read_windows("api", 10.0), key=lambda r: (r["worker"], r["window"]))
    assert got == [row("w1", 10.0, requests=1), row("w1", 11.0, requests=7),
                   row("w2", 10.0, "iris:2", requests=5)]
    assert [r["window"] for r in stats.read_windows("api", 11.0)] == [11.0]
    assert stats.read_windows("other", 0.0) == []
    stats.write_windows([row("w1", 12.0, requests=1)], "w1", forget_before=11.0)
    left = {(r["worker"], r["window"]) for r in stats.read_windows("api", 0.0)}
    assert left == {("w1", 11.0), ("w1", 12.0), ("w2", 10.0)}  # only w1's own old windows go
