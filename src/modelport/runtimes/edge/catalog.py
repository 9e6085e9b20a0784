"""Which bundles were published: the only artifacts the server hands to devices.

A published bundle is recorded as a tag on its model version
(``edge.bundle.<sha256>`` → JSON with group, percent, size, key id), so the
record lives in the registry, survives restarts, is shared by every server
replica, and needs no table of its own. ``GET /v2/edge/bundles/<sha256>``
serves a digest only if such a tag exists — the route is not a window onto
arbitrary artifacts (model files, samples).
"""

from __future__ import annotations

import json
from typing import Any

from modelport.core.store.registry import BLOB_TAG
from modelport.core.workspace import Workspace, current
from modelport.lifecycle.registry import set_tag

TAG_PREFIX = BLOB_TAG  # the store knows such a tag names a blob: the model's project reads it


def record_published(ref: str, digest: str, info: dict[str, Any],
                     ws: Workspace | None = None) -> None:
    set_tag(ref, TAG_PREFIX + digest, json.dumps(info, sort_keys=True), ws=ws)


def find_published(digest: str, ws: Workspace | None = None) -> dict[str, Any] | None:
    """The record of a published bundle, or None if this digest was never published."""
    found = current(ws).store.registry.find_tag(TAG_PREFIX + digest)
    if found is None:
        return None
    name, version, value = found
    return {"model": name, "version": version, **json.loads(value)}
