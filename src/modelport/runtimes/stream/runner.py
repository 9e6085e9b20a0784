"""The stream consumer: read events, predict, publish, acknowledge — and learn.

One loop, one batch at a time::

    read events → check against the signature → predict (one Predictor call)
    → publish predictions (and dead letters) → acknowledge
    read labels → join to earlier predictions by id → learn, score, watch drift
    every N events / S seconds → checkpoint the learnt state, then acknowledge

Without ``learn`` an event is acknowledged as soon as its prediction is
published; labels, when given, are still joined to score the model and watch
its error for drift (any model: a drifting scikit-learn champion can trigger
``modelport retrain``). With ``learn``, events and labels are acknowledged only after the
checkpoint that includes them is stored: a consumer killed at any moment
restarts from its last checkpoint and the broker hands it back exactly what
that checkpoint lacks (replayed predictions are published again, marked
``redelivered``; labels are learnt once per event id).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from modelport.config import DEFAULT_RUNTIME
from modelport.core.formats import get_format
from modelport.core.formats.base import Predictor
from modelport.core.formats.online import OnlinePredictor
from modelport.core.tensor_inputs import TensorBatch
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, SchemaError
from modelport.lifecycle.labels import writer_retention
from modelport.lifecycle.loading import load_version
from modelport.lifecycle.online_score import OnlineScore
from modelport.lifecycle.predlogs import log_location, logs_root, uploads
from modelport.lifecycle.registry import get_version
from modelport.lifecycle.tracking import create_run
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.stream import progress
from modelport.runtimes.stream.brokers import dead_letter_url, open_sink, open_source
from modelport.runtimes.stream.brokers.base import Message, Source
from modelport.runtimes.stream.drift import DriftWatch
from modelport.runtimes.stream.events import (
    DeadLetter,
    Event,
    parse_events,
    parse_labels,
    predictions,
)
from modelport.runtimes.stream.window import JoinWindow

DRIFT_ACTIONS = ("none", "reset", "retrain")


@dataclass
class StreamConfig:
    source: str
    sink: str
    group: str = "modelport"
    consumer: str = "consumer-1"
    name: str | None = None  # the stream's name in `stream status`; the group by default
    labels: str | None = None
    learn: bool = False
    dead_letter: str | None = None
    batch_size: int = 256
    wait: float = 0.2  # longest wait for the first event of a batch
    claim_after: float = 30.0
    checkpoint_events: int = 20_000
    checkpoint_seconds: float = 5.0
    join_events: int = 100_000
    join_seconds: float = 3600.0
    drift: str = "adwin"  # or page_hinkley, or off
    drift_features: bool = True
    on_drift: str = "none"
    retrain_data: str | None = None
    runtime: str = DEFAULT_RUNTIME
    log_sample: float = 0.0  # share of event batches logged for `modelport monitor`
    log_retention_s: float | None = None  # logged hours older than this are removed

    def __post_init__(self) -> None:
        self.name = self.name or self.group
        if self.on_drift not in DRIFT_ACTIONS:
            raise InvalidInputError(f"unknown drift action {self.on_drift!r} — use one of "
                                    f"{', '.join(DRIFT_ACTIONS)}")
        if self.on_drift == "retrain" and not self.retrain_data:
            raise InvalidInputError("--on-drift retrain needs --retrain-data (the data "
                                    "`modelport retrain` re-runs the champion's recipe on)")
        if self.learn and not self.labels:
            raise InvalidInputError("learning needs a label stream: give --labels URL")
        if self.on_drift == "reset" and not self.learn:
            raise InvalidInputError("--on-drift reset restarts learning: it needs --learn")
        if self.batch_size < 1 or self.checkpoint_events < 1 or self.checkpoint_seconds <= 0:
            raise InvalidInputError("batch size, checkpoint events and seconds must be positive")
        if self.learn and self.checkpoint_seconds >= self.claim_after:
            # a learning consumer holds events until its checkpoint; brokers hand held
            # events to other members (or back to it) once claim_after has passed
            raise InvalidInputError(
                f"--checkpoint-seconds ({self.checkpoint_seconds:g}) must be shorter than "
                f"--claim-after ({self.claim_after:g})")


@dataclass
class StreamStats:
    events: int = 0
    predictions: int = 0
    dead_letters: int = 0
    redelivered: int = 0
    labels: int = 0
    learnt: int = 0
    resets: int = 0
    retrains: int = 0
    checkpoints: int = 0
    events_per_second: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    join: dict[str, int] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    lag: int | None = None
    pending: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StreamRunner:
    """Runs one consumer of one stream with one model (``ref``)."""

    def __init__(self, ref: str, config: StreamConfig, ws: Workspace | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.ws = current(ws)
        self.config = config
        self.say = say or (lambda _msg: None)
        version = get_version(ref, ws=self.ws)
        self.incarnation = version.incarnation  # its log files say which iris:1 answered
        self.predictor: Predictor = load_version(version, config.runtime, self.ws)
        self.ref = f"{self.predictor.name}:{self.predictor.version}"
        if config.learn and not isinstance(self.predictor, OnlinePredictor):
            raise InvalidInputError(f"{self.ref} is not an online model — train one with "
                                    "modelport train --online, or run the stream without --learn")
        self.signature = self.predictor.signature
        self.stats = StreamStats()
        self.window = JoinWindow(config.join_events, config.join_seconds)
        task = "classification" if self.predictor.is_classifier else "regression"
        self.score = OnlineScore(task)
        self.drift: DriftWatch | None = None
        if config.drift != "off":
            self.drift = DriftWatch(self.signature.names, config.drift, config.drift_features)
        self._unacked: list[Message] = []
        self._unacked_labels: list[Message] = []
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._last_beat = 0.0
        self._beat_events = 0
        self._retrain: subprocess.Popen[bytes] | None = None
        self._logged_at = 0
        self.predlog: PredictionLog | None = None
        if config.log_sample > 0:
            self.predlog = PredictionLog(logs_root(self.ws), config.log_sample,
                                         writer_retention(self.ws, config.log_retention_s),
                                         upload=uploads(self.ws))
        self._resume()

    # -- lifecycle ---------------------------------------------------------------------------

    def _resume(self) -> None:
        c = self.config
        assert c.name is not None
        record = _public(c)
        if self.predlog is not None:  # which machine holds the logs, for a shared store
            record["prediction_log"] = log_location(self.ws)
        previous = progress.start(c.name, c.consumer, self.ref, record, ws=self.ws)
        checkpoint = previous.checkpoint if previous else None
        if not (c.learn and checkpoint):
            return
        if checkpoint["version"] != self.ref:
            self.say(f"checkpoint of {checkpoint['version']} ignored: now running {self.ref}")
            return
        model_bytes, window = progress.load_checkpoint(checkpoint, ws=self.ws)
        resumed = get_format("river").load(model_bytes, self.signature)
        resumed.name, resumed.version = self.predictor.name, self.predictor.version
        self.predictor = resumed
        self.window.restore(window)
        self.stats.learnt = int(checkpoint["labels"])
        self.say(f"resumed from the checkpoint after {checkpoint['labels']} labels")

    def run(self, stop: threading.Event | None = None, max_events: int | None = None,
            idle_exit: float | None = None) -> StreamStats:
        """Consume until ``stop`` is set, ``max_events`` are processed or nothing has
        arrived for ``idle_exit`` seconds (draining a backlog); always ends with a
        checkpoint and the acknowledgements it allows."""
        c = self.config
        stop = stop or threading.Event()
        run = create_run(name=f"stream-{c.name}-{c.consumer}", experiment="stream",
                         tags={"stream": str(c.name), "consumer": c.consumer, "model": self.ref},
                         ws=self.ws)
        self._run = run
        dead_url = c.dead_letter or dead_letter_url(c.source)
        state = "failed"
        with ExitStack() as opened:
            if self.predlog is not None:
                self.predlog.start()
                opened.callback(self.predlog.close)  # what is buffered is written at the end
            try:  # a broker that cannot be opened fails the run too, not leaves it running
                self._source = opened.enter_context(
                    open_source(c.source, c.group, c.consumer, c.claim_after))
                self._sink = opened.enter_context(open_sink(c.sink))
                self._dead_sink = opened.enter_context(open_sink(dead_url))
                self._labels: Source | None = None
                if c.labels:
                    self._labels = opened.enter_context(
                        open_source(c.labels, c.group, c.consumer, c.claim_after))
                last_work = time.monotonic()
                while not stop.is_set():
                    if self.step():
                        last_work = time.monotonic()
                    if max_events is not None and self.stats.events >= max_events:
                        break
                    if idle_exit is not None and time.monotonic() - last_work >= idle_exit:
                        break
                if c.learn:
                    self.checkpoint()
                state = "stopped"
            finally:
                self._beat(force=True, state=state)
                run.end("FINISHED" if state == "stopped" else "FAILED")
        return self.stats

    # -- one batch -----------------------------------------------------------------------------

    def step(self) -> int:
        """One round: a batch of events, then of labels; returns how many messages came."""
        c = self.config
        busy = bool(self._labels) and bool(self.window.predicted or self.window.early)
        messages = self._source.read(c.batch_size, 0.0 if busy else c.wait)
        if messages:
            self._predict(messages)
        label_messages: list[Message] = []
        if self._labels is not None:
            label_messages = self._labels.read(c.batch_size, 0.0 if messages else c.wait)
            if label_messages:
                self._join(label_messages)
        if c.learn and self._checkpoint_due():
            self.checkpoint()
        self._beat()
        self._reap_retrain()
        return len(messages) + len(label_messages)

    def _predict(self, messages: list[Message]) -> None:
        events, dead = parse_events(messages)
        x, events, bad = self._matrix(events)
        dead += bad
        if events:
            rows = None
            if self.config.learn:  # the dicts River predicts from are the ones it learns from
                assert isinstance(self.predictor, OnlinePredictor)
                rows = self.predictor.rows(x)
                outputs = self.predictor.outputs_of_rows(rows)
            else:
                outputs = self.predictor.predict_outputs(x)
            prediction = self.predictor.prediction(outputs)
            self._sink.publish(predictions(events, outputs, str(self.predictor.name),
                                           self.predictor.version, prediction))
            self.stats.predictions += len(events)
            if self.predlog is not None:
                self.predlog.record(str(self.predictor.name), self.predictor.version or 0,
                                    self.signature, [str(e.id) for e in events], x,
                                    prediction, self.incarnation)
            if self._labels is not None:
                self._remember(events, rows, prediction)
            if self.drift is not None:
                drifted = self.drift.batch(x, self.stats.events)
                if drifted:
                    self.say(f"drift in the inputs: {', '.join(drifted)}")
        self._dead(dead)
        self.stats.events += len(messages)
        self.stats.redelivered += sum(m.redelivered for m in messages)
        if self.config.learn:
            self._unacked.extend(messages)
            self._since_checkpoint += len(messages)
        else:
            self._source.ack(messages)

    def _matrix(self, events: list[Event]) -> tuple[Any, list[Event], list[DeadLetter]]:
        if self.signature.tensors is not None and events:
            return self._tensors(events)
        if not events:
            return np.empty((0, len(self.signature.inputs))), [], []
        dead: list[DeadLetter] = []
        try:
            x, good = self.signature.to_matrix([e.features for e in events], check=False), events
        except SchemaError:  # find the culprits one by one; the rest of the batch goes on
            good, rows = [], []
            for event in events:
                try:
                    rows.append(self.signature.to_matrix([event.features], check=False))
                    good.append(event)
                except SchemaError as exc:
                    dead.append(DeadLetter(event.message, exc.message))
            x = np.vstack(rows) if rows else np.empty((0, len(self.signature.inputs)))
        refused = self.signature.refused(x)  # a missing value it cannot take, an infinite one
        if refused:
            dead += [DeadLetter(good[i].message, reason) for i, reason in refused.items()]
            keep = np.ones(len(x), dtype=bool)
            keep[list(refused)] = False
            x, good = x[keep], [e for e, k in zip(good, keep.tolist(), strict=True) if k]
        return x, good, dead

    def _tensors(self, events: list[Event]) -> tuple[Any, list[Event], list[DeadLetter]]:
        """An imported graph's batch (a text model's texts, a graph's named tensors), the
        events it refuses set aside one by one, each with its reason."""
        try:
            return self.predictor.matrix([e.features for e in events]), events, []
        except SchemaError:
            pass
        good: list[Event] = []
        parts: list[Any] = []  # one TensorBatch per event
        dead: list[DeadLetter] = []
        for event in events:
            try:
                parts.append(self.predictor.matrix([event.features]))
                good.append(event)
            except SchemaError as exc:
                dead.append(DeadLetter(event.message, exc.message))
        return (TensorBatch.join(parts) if parts else None), good, dead

    def _dead(self, dead: list[DeadLetter]) -> None:
        if dead:
            self._dead_sink.publish([d.payload(self.config.source) for d in dead])
            self.stats.dead_letters += len(dead)

    def _remember(self, events: list[Event], rows: list[dict[str, float]] | None,
                  predicted: np.ndarray) -> None:
        add, now, values = self.window.add, time.time(), predicted.tolist()
        early = []
        for i, event in enumerate(events):
            came_first = add(event.id, rows[i] if rows else None, values[i], now)
            if came_first is not None:  # its label, already converted, was waiting
                label, pending = came_first
                early.append((pending.row, pending.prediction, label))
        self.window.expire(now)
        if early:
            self._teach(early)

    def _join(self, messages: list[Message]) -> None:
        labels, dead = parse_labels(messages)
        self._dead(dead)
        self.stats.labels += len(messages)
        if self.config.learn:
            self._unacked_labels.extend(messages)
        joined, bad = [], []
        for label in labels:
            try:
                value = _as_class(label.value, self.predictor)
            except (TypeError, ValueError):
                bad.append(DeadLetter(label.message, f"label {label.value!r} is not a number"))
                continue
            pending = self.window.label(label.id, value)
            if pending is not None:
                joined.append((pending.row, pending.prediction, value))
        self._dead(bad)
        self.window.expire()
        if joined:
            self._teach(joined)
        if not self.config.learn and self._labels is not None:
            self._labels.ack(messages)  # nothing learnt: nothing to checkpoint first

    def _teach(self, joined: list[tuple[dict[str, float] | None, Any, Any]]) -> None:
        """Score each joined prediction, watch its error, and learn from it if learning."""
        learn_one = self._learner().learn_one if self.config.learn else None
        score, drift = self.score, self.drift
        for row, prediction, label in joined:
            error = score.update(label, prediction)
            if learn_one is not None:
                assert row is not None  # a learning stream keeps every row it predicted
                learn_one(row, label)
                self.stats.learnt += 1
            if drift is not None and drift.error(error, score.n):
                self._on_drift()
                if self.config.learn:  # a reset swaps the model: teach the new one
                    learn_one = self._learner().learn_one

    def _learner(self) -> OnlinePredictor:
        """The predictor as the online model ``--learn`` was checked to load."""
        assert isinstance(self.predictor, OnlinePredictor)
        return self.predictor

    def _on_drift(self) -> None:
        action = self.config.on_drift
        self.say(f"drift: the error rose after {self.score.n} labels (action: {action})")
        if action == "reset":
            assert isinstance(self.predictor, OnlinePredictor)
            self.predictor = self.predictor.fresh()
            self.stats.resets += 1
            if self.drift is not None:
                self.drift.reset_error()
        elif action == "retrain" and self._retrain is None:
            assert self.config.retrain_data is not None
            self._retrain = subprocess.Popen(
                [sys.executable, "-m", "modelport", "retrain", str(self.predictor.name),
                 "--data", self.config.retrain_data],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.stats.retrains += 1

    def _reap_retrain(self) -> None:
        if self._retrain is not None and self._retrain.poll() is not None:
            self.say(f"retrain finished with exit code {self._retrain.returncode}")
            self._retrain = None

    # -- checkpoints and heartbeats ------------------------------------------------------------

    def _checkpoint_due(self) -> bool:
        if not (self._unacked or self._unacked_labels):
            return False
        return (self._since_checkpoint >= self.config.checkpoint_events
                or time.monotonic() - self._last_checkpoint >= self.config.checkpoint_seconds)

    def checkpoint(self) -> None:
        """Store the learnt state, then acknowledge everything it includes."""
        assert isinstance(self.predictor, OnlinePredictor) and self.config.name is not None
        progress.save_checkpoint(
            self.config.name, self.config.consumer, get_format("river").dump(self.predictor.model),
            self.window.to_state(), self.stats.events, self.stats.learnt, self.ref, ws=self.ws)
        if self._unacked:
            self._source.ack(self._unacked)
        if self._unacked_labels and self._labels is not None:
            self._labels.ack(self._unacked_labels)
        self._unacked, self._unacked_labels = [], []
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self.stats.checkpoints += 1

    def _beat(self, force: bool = False, state: str = "running") -> None:
        now = time.monotonic()
        elapsed = now - self._last_beat
        if not force and elapsed < 1.0:
            return
        s = self.stats
        if self._last_beat:
            s.events_per_second = (s.events - self._beat_events) / max(elapsed, 1e-9)
        self._last_beat, self._beat_events = now, s.events
        s.metrics = self.score.values()
        if s.metrics and self.score.n != self._logged_at:  # the score's history, in tracking
            self._run.log_metrics(s.metrics, step=self.score.n)
            self._logged_at = self.score.n
        s.join = self.window.counts.to_dict()
        s.drift = self.drift.state.to_dict() if self.drift else {}
        try:
            info = self._source.info()
            s.lag, s.pending = info.lag, info.pending
        except Exception:  # status is best effort; the stream itself must go on
            s.lag = s.pending = None
        assert self.config.name is not None
        progress.heartbeat(self.config.name, self.config.consumer, s.to_dict(), state=state,
                           ws=self.ws)


def _as_class(value: Any, predictor: Predictor) -> Any:
    """Labels arrive as JSON; a classifier learns them as the classes it was trained on."""
    classes = predictor.classes
    if classes is None:
        return float(value)
    for c in classes.tolist():
        if c == value or str(c) == str(value):
            return c
    return value  # a class never seen before: River classifiers take new ones


def _public(config: StreamConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if v is not None}
