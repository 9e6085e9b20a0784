"""The wire format of a stream: events in, predictions out, labels joined by id.

An event is a JSON object ``{"id": "e1", "features": {"x1": 0.3, ...}}`` (or the
features at the top level beside ``id``); without an ``id`` the broker's own
message id stands in. A label is ``{"id": "e1", "label": 1}``. A prediction is
``{"id", "prediction", "model", "version", "redelivered"}`` plus
``probabilities`` for classifiers. Anything unreadable becomes a
``DeadLetter`` with the reason; it never stops the consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from modelport.runtimes.stream.brokers.base import Message


@dataclass(slots=True)
class Event:
    id: str
    features: dict[str, Any]
    message: Message


@dataclass(slots=True)
class Label:
    id: str
    value: Any
    message: Message


@dataclass(slots=True)
class DeadLetter:
    message: Message
    reason: str

    def payload(self, source: str) -> bytes:
        text = self.message.data.decode("utf-8", "replace")
        return orjson.dumps({"reason": self.reason, "source": source,
                             "message_id": self.message.id, "data": text})


def _object(message: Message) -> dict[str, Any] | DeadLetter:
    try:
        doc = orjson.loads(message.data)
    except orjson.JSONDecodeError as exc:
        return DeadLetter(message, f"not JSON: {exc}")
    if not isinstance(doc, dict):
        return DeadLetter(message, f"expected a JSON object, got {type(doc).__name__}")
    return doc


def _id(doc: dict[str, Any], message: Message) -> str | DeadLetter:
    raw = doc.get("id", message.id)
    if type(raw) is str and raw:  # the common case, checked first: this runs per event
        return raw
    if type(raw) is not int:
        return DeadLetter(message, "'id' must be a non-empty string or an integer")
    return str(raw)


def _read(message: Message, id_required: bool) -> tuple[dict[str, Any], str] | DeadLetter:
    """The JSON object in a message and the event id it names."""
    doc = _object(message)
    if isinstance(doc, DeadLetter):
        return doc
    if id_required and "id" not in doc:
        return DeadLetter(message, "a label needs 'id'")
    event_id = _id(doc, message)
    return event_id if isinstance(event_id, DeadLetter) else (doc, event_id)


def parse_events(messages: list[Message]) -> tuple[list[Event], list[DeadLetter]]:
    events: list[Event] = []
    dead: list[DeadLetter] = []
    for message in messages:
        read = _read(message, id_required=False)
        if isinstance(read, DeadLetter):
            dead.append(read)
            continue
        doc, event_id = read
        features = doc.get("features", doc)
        if not isinstance(features, dict):
            dead.append(DeadLetter(message, "'features' must be a JSON object"))
            continue
        events.append(Event(event_id, features, message))
    return events, dead


def parse_labels(messages: list[Message]) -> tuple[list[Label], list[DeadLetter]]:
    labels: list[Label] = []
    dead: list[DeadLetter] = []
    for message in messages:
        read = _read(message, id_required=True)
        if isinstance(read, DeadLetter):
            dead.append(read)
            continue
        doc, event_id = read
        if doc.get("label") is None:
            dead.append(DeadLetter(message, "a label needs a non-null 'label'"))
        else:
            labels.append(Label(event_id, doc["label"], message))
    return labels, dead


def predictions(events: list[Event], outputs: dict[str, np.ndarray], model: str,
                version: int | None, prediction: np.ndarray) -> list[bytes]:
    """One payload per event, in event order (``prediction``: the model's prediction
    output among ``outputs`` — an imported graph names its own)."""
    values = prediction.tolist()
    proba = outputs.get("probabilities")
    rows = proba.tolist() if proba is not None else None
    out = []
    for i, event in enumerate(events):
        doc: dict[str, Any] = {"id": event.id, "prediction": values[i], "model": model,
                               "version": version, "redelivered": event.message.redelivered}
        if rows is not None:
            doc["probabilities"] = rows[i]
        out.append(orjson.dumps(doc))
    return out
