"""Draining a delayed-label stream into the label files a monitoring report joins.

Messages are ``{"id": REQUEST_ID, "label": VALUE}`` — the shape ``modelport stream run
--labels`` already reads — on any broker the stream runtime speaks (Redis Streams,
NATS JetStream, MQTT). Everything available is read as one consumer of a consumer group
(``modelport-monitor`` by default, so a stream that also feeds online learning keeps
its own group's position), written as whole Parquet files (``lifecycle/labels.py``) —
one for each version the report is about, since a label names a request, not the
version that answered it — and only then acknowledged: a crash before the write re-reads
the messages, and a label read twice counts once at the join. A message that is not a
label (bad JSON, no id, no label) is counted and acknowledged — it can never become one.

Behind a ``modelport server`` the files are written under this machine's
``MODELPORT_HOME/labels`` first (acknowledged once safe there), then sent to the server
(``runtimes/log_spool.py``): a file the server did not take stays and goes with the next
drain on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelport.core.workspace import Workspace, current
from modelport.lifecycle.labels import label_uploads, labels_root, write_labels
from modelport.lifecycle.refs import Ref
from modelport.lifecycle.registry import get_version
from modelport.runtimes.log_spool import Spool
from modelport.runtimes.stream.brokers import open_source
from modelport.runtimes.stream.events import parse_labels

GROUP = "modelport-monitor"
BATCH = 1000
MOST = 1_000_000  # labels taken in one call: a huge backlog is drained over several reports


@dataclass
class Drained:
    labels: int = 0
    malformed: int = 0
    unsent: int = 0  # label files the server does not have yet (kept here, sent next time)


def drain(url: str, versions: Sequence[tuple[str, int]], group: str = GROUP,
          consumer: str = "monitor", wait_s: float = 1.0, most: int = MOST,
          ws: Workspace | None = None) -> Drained:
    """Read every label ``url`` holds now (waiting ``wait_s`` for the first), keep them for
    each of ``versions`` (model, version) — as registered when the drain begins: each
    file says which life of its version it is for (``core/incarnation.py``), so one sent
    after that version was deleted goes to no later model of its name."""
    ws = current(ws)
    lives = [(model, version, get_version(Ref(model, version=version), ws=ws).incarnation)
             for model, version in versions]
    root = labels_root(ws)
    spool = Spool(root, label_uploads(ws), "label")
    drained = Drained()
    with open_source(url, group, consumer) as source:
        timeout = wait_s
        while drained.labels + drained.malformed < most:
            messages = source.read(BATCH, timeout)
            if not messages:
                break
            labels, dead = parse_labels(messages)
            if labels:
                for model, version, incarnation in lives:
                    spool.added(write_labels(root, model, version,
                                             [label.id for label in labels],
                                             [label.value for label in labels],
                                             incarnation=incarnation))
            source.ack(messages)  # after the files are whole
            drained.labels += len(labels)
            drained.malformed += len(dead)
            timeout = 0.2  # the backlog: stop at the first quiet moment
    spool.send()  # this drain's files, and any an earlier one could not send
    drained.unsent = spool.unsent
    return drained
