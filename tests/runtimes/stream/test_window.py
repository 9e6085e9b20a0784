"""The delayed-label join on its own: matched, early, late, unmatched and
duplicate labels, bounds, and a checkpoint round trip."""

from __future__ import annotations

import orjson

from modelport.runtimes.stream.window import JoinWindow


def test_every_label_is_counted_once_and_learnt_at_most_once() -> None:
    window = JoinWindow(max_events=3, max_age=10.0)
    for i in range(5):  # e0 and e1 fall out of the window: it holds 3
        window.add(f"e{i}", {"x": float(i)}, i % 2, now=100.0)
    window.expire(now=100.0)
    assert window.label("e4", 0, now=101.0).row == {"x": 4.0}  # matched
    assert window.label("e4", 0, now=101.0) is None  # a redelivered label: not learnt twice
    assert window.label("e0", 1, now=101.0) is None  # its event left the window: late
    assert window.label("e9", 1, now=101.0) is None  # not seen yet: waits as early
    label, pending = window.add("e9", {"x": 9.0}, 0, now=102.0)  # its event: learnt now
    assert label == 1 and pending.row == {"x": 9.0} and pending.prediction == 0
    assert window.label("e7", 1, now=101.0) is None  # early, but its event never comes
    window.expire(now=200.0)  # … and the age bound passes
    assert window.counts.to_dict() == {"matched": 2, "late": 2, "unmatched": 1, "duplicate": 0}
    assert window.add("e9", {"x": 9.0}, 0, now=201.0) is None  # a replayed, learnt event
    assert "e9" not in window.predicted


def test_an_early_label_redelivered_is_a_duplicate() -> None:
    window = JoinWindow()
    window.label("e1", 1, now=0.0)
    window.label("e1", 1, now=0.0)
    assert window.counts.duplicate == 1


def test_checkpoint_state_round_trips_through_json() -> None:
    window = JoinWindow()
    window.add("a", {"x": 1.0}, 1, now=5.0)
    window.label("b", 0, now=6.0)
    window.label("c", 0, now=6.0)
    window.add("c", {"x": 2.0}, 0, now=7.0)
    twin = JoinWindow()
    twin.restore(orjson.loads(orjson.dumps(window.to_state())))
    assert twin.to_state() == window.to_state()
    assert twin.label("a", 1, now=8.0).row == {"x": 1.0}
    assert twin.add("b", {"x": 3.0}, 1, now=8.0)[0] == 0

