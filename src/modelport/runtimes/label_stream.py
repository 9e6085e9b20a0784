"""Draining a delayed-label stream into the label files a monitoring report joins.

Messages are ``{"id": REQUEST_ID, "label": VALUE}`` — the shape ``modelport stream run
--labels`` already reads — on any broker the stream runtime speaks (Redis Streams,
NATS JetStream, MQTT). Everything available is read as one consumer of a consumer group
(``modelport-monitor`` by default, so a stream that also feeds online learning keeps
its own group's position), written as whole Parquet files (``lifecycle/labels.py``),
and only then acknowledged: a crash before the write re-reads the messages, and a
label read twice counts once at the join. A message that is not a label (bad JSON, no
id, no label) is counted and acknowledged — it can never become one.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelport.core.workspace import Workspace, current
from modelport.lifecycle.labels import labels_root, write_labels
from modelport.runtimes.stream.brokers import open_source
from modelport.runtimes.stream.events import parse_labels

GROUP = "modelport-monitor"
BATCH = 1000
MOST = 1_000_000  # labels taken in one call: a huge backlog is drained over several reports


@dataclass
class Drained:
    labels: int = 0
    malformed: int = 0


def drain(url: str, group: str = GROUP, consumer: str = "monitor", wait_s: float = 1.0,
          most: int = MOST, ws: Workspace | None = None) -> Drained:
    """Read every label ``url`` holds now (waiting ``wait_s`` for the first), keep them."""
    root = labels_root(current(ws))
    drained = Drained()
    with open_source(url, group, consumer) as source:
        timeout = wait_s
        while drained.labels + drained.malformed < most:
            messages = source.read(BATCH, timeout)
            if not messages:
                break
            labels, dead = parse_labels(messages)
            if labels:
                write_labels(root, [label.id for label in labels],
                             [label.value for label in labels])
            source.ack(messages)  # after the file is whole
            drained.labels += len(labels)
            drained.malformed += len(dead)
            timeout = 0.2  # the backlog: stop at the first quiet moment
    return drained
