"""``collect_garbage``: remove the blobs no record names, once they are old enough.

Registrations that fail, and deleted runs, versions and models, leave their blobs in the
artifact store: another writer may have found the same bytes stored a moment before and
be about to record them (``core.artifact_gc`` says why, and how the grace period keeps
that writer's blob). This is what removes them, when an operator runs it —
``modelport gc`` or a schedule. Behind a ``modelport server`` the server collects, on
its own store and against its own records; an ``admin`` key may ask it to.

>>> modelport.collect_garbage(dry_run=True).deleted              # doctest: +SKIP
['3f1c…', …]
"""

from __future__ import annotations

from modelport.core.artifact_gc import GRACE_S, Collected
from modelport.core.workspace import Workspace, current


def collect_garbage(grace_s: float = GRACE_S, dry_run: bool = False,
                    ws: Workspace | None = None) -> Collected:
    """Delete the workspace's blobs that no record — in any project — names and that were
    last stored more than ``grace_s`` seconds ago (an hour by default); with ``dry_run``,
    only say which. Safe while registrations run: a blob a writer stored or found within
    the grace period stays."""
    ws = current(ws)
    return ws.artifacts.collect(ws.store.registry.referenced_digests, grace_s, dry_run)
