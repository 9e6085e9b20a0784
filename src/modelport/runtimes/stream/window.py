"""The delayed-label join: keep what was predicted until its label arrives.

Labels come late (a fraud is confirmed days later) and sometimes before the
event they label is processed (after a restart, both streams are replayed).
The window holds each prediction's features by event id, bounded in count and
age; a label that finds its event is *matched* and learnt from once, however
often the broker redelivers it. A label for an event that has already left
the window is *late*; one whose event never shows up within the window is
*unmatched*. Nothing is learnt twice and every label is counted once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Pending:
    row: dict[str, float] | None  # the features, kept only when the model learns from them
    prediction: Any
    at: float


@dataclass
class JoinCounts:
    matched: int = 0
    late: int = 0
    unmatched: int = 0
    duplicate: int = 0

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class JoinWindow:
    max_events: int = 100_000
    max_age: float = 3600.0
    counts: JoinCounts = field(default_factory=JoinCounts)
    predicted: OrderedDict[str, Pending] = field(default_factory=OrderedDict)
    early: OrderedDict[str, tuple[Any, float]] = field(default_factory=OrderedDict)
    # ids that left the window unlabelled or were already learnt: tells late from unknown
    gone: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def add(self, event_id: str, row: dict[str, float] | None, prediction: Any,
            now: float | None = None) -> tuple[Any, Pending] | None:
        """Remember a prediction; returns (label, pending) when its label came first.
        Call ``expire`` once per batch to apply the bounds."""
        now = time.time() if now is None else now
        pending = Pending(row, prediction, now)
        if event_id in self.early:
            label, _ = self.early.pop(event_id)
            self._forget(event_id)
            self.counts.matched += 1
            return label, pending
        if event_id in self.gone:  # a redelivered event whose label was already learnt
            return None
        self.predicted[event_id] = pending
        self.predicted.move_to_end(event_id)
        return None

    def label(self, event_id: str, value: Any, now: float | None = None) -> Pending | None:
        """The prediction a label belongs to, if it is waiting for one."""
        now = time.time() if now is None else now
        pending = self.predicted.pop(event_id, None)
        if pending is not None:
            self.counts.matched += 1
            self._forget(event_id)
            return pending
        if event_id in self.gone:
            self.counts.late += 1
        elif event_id in self.early:
            self.counts.duplicate += 1
        else:
            self.early[event_id] = (value, now)
        return None

    def _forget(self, event_id: str) -> None:
        self.gone[event_id] = None
        while len(self.gone) > self.max_events:
            self.gone.popitem(last=False)

    def expire(self, now: float | None = None) -> None:
        """Drop what is over the bounds: predictions to ``gone``, early labels as unmatched."""
        limit = (time.time() if now is None else now) - self.max_age
        for queue, unmatched in ((self.predicted, False), (self.early, True)):
            while queue and (len(queue) > self.max_events
                             or _at(next(iter(queue.values()))) < limit):
                event_id, _ = queue.popitem(last=False)
                if unmatched:
                    self.counts.unmatched += 1
                else:
                    self._forget(event_id)

    def to_state(self) -> dict[str, Any]:
        """Everything a checkpoint needs to resume the join exactly."""
        return {"predicted": [[k, p.row, p.prediction, p.at] for k, p in self.predicted.items()],
                "early": [[k, v, at] for k, (v, at) in self.early.items()],
                "gone": list(self.gone), "counts": self.counts.to_dict()}

    def restore(self, state: dict[str, Any]) -> None:
        self.predicted = OrderedDict((k, Pending(row, pred, at))
                                     for k, row, pred, at in state["predicted"])
        self.early = OrderedDict((k, (v, at)) for k, v, at in state["early"])
        self.gone = OrderedDict.fromkeys(state["gone"])
        self.counts = JoinCounts(**state["counts"])


def _at(item: Any) -> float:
    return item.at if isinstance(item, Pending) else item[1]
