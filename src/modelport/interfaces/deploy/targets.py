"""What a deployment serves: a model reference, or an endpoint and its versions now.

An endpoint's policy moves while it runs (a rollout changes its weights in the
store), so whatever serves one must read that store: ``needs_store`` says so, and
the image and manifest writers refuse an endpoint that could not see its next
version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from modelport.core.workspace import Workspace, current
from modelport.lifecycle.endpoints import list_endpoints
from modelport.lifecycle.registry import ModelVersion, get_version


@dataclass
class Target:
    text: str  # as given: NAME, NAME:VERSION, NAME@ALIAS or an endpoint's name
    versions: list[ModelVersion]  # what it serves now
    needs_store: bool  # an endpoint: its replicas must share the store


def resolve_targets(texts: Sequence[str], ws: Workspace | None = None) -> list[Target]:
    """Each of ``texts`` with the versions it serves now (an unknown one raises
    ``NotFoundError`` naming it, as serve would)."""
    ws = current(ws)
    endpoints = {e.name: e for e in list_endpoints(ws=ws)}
    out = []
    for text in texts:
        if text in endpoints:
            refs = endpoints[text].policy.versions()
            out.append(Target(text, [get_version(r, ws=ws) for r in refs], True))
        else:
            out.append(Target(text, [get_version(text, ws=ws)], False))
    return out
