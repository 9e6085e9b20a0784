"""An endpoint's live numbers per version, as an operator watches a release.

The serving workers write one-second windows per version (``runtimes.serving.
stats``); the rollout analysis sums them since a step began. An operator wants
the same sums over the last few seconds — requests per second, error rate,
p99, the shadow's agreement — next to the share the policy gives each version,
and the requests of each recent second to see traffic move.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from modelport.control.analysis import summary
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.endpoints import get_endpoint
from modelport.runtimes.serving.stats import WINDOW_S, empty, merge

MAX_SPAN_S = 3600  # what the workers keep (stats.KEEP_S)


@dataclass
class VersionLive:
    version: str  # NAME:VERSION
    role: str  # route (takes traffic) | shadow (mirrored) | warm (loaded, idle) | gone
    share: float  # percent of requests the policy routes to it
    requests_per_s: float
    stats: dict[str, Any]  # the analysis' summary over the window: requests, error_rate, p99_ms…
    per_second: list[int]  # requests answered in each of the last ``span_s`` whole seconds


@dataclass
class Live:
    endpoint: str
    revision: int
    at: float  # when the numbers were read
    window_s: float
    span_s: int
    versions: list[VersionLive]


def live(endpoint: str, window_s: float = 10.0, span_s: int = 60,
         ws: Workspace | None = None) -> Live:
    """The last ``window_s`` seconds of each version of ``endpoint``, and its requests per
    second over the last ``span_s``; the versions the policy names come first."""
    if not 1 <= window_s <= MAX_SPAN_S or not 1 <= span_s <= MAX_SPAN_S:
        raise InvalidInputError(f"window_s and span_s are 1 to {MAX_SPAN_S} seconds")
    ws = current(ws)
    ep = get_endpoint(endpoint, ws=ws)
    now = time.time()
    current_window = math.floor(now / WINDOW_S) * WINDOW_S
    first = current_window - span_s * WINDOW_S  # whole seconds only: the current one is open
    since = now - window_s
    total: dict[str, dict[str, Any]] = {}
    seconds: dict[str, list[int]] = {}
    for row in ws.store.stats.read_windows(endpoint, min(first, since)):
        version = row["version"]
        if row["window"] + WINDOW_S > since:
            merge(total.setdefault(version, empty()), row["data"])
        slot = int((row["window"] - first) / WINDOW_S)
        if 0 <= slot < span_s:
            counts = seconds.setdefault(version, [0] * span_s)
            counts[slot] += int(row["data"].get("requests", 0))
    weights = sum(r.weight for r in ep.policy.routes) or 1.0
    roles = {v: "warm" for v in ep.policy.warm}
    if ep.policy.shadow:
        roles[ep.policy.shadow] = "shadow"
    roles.update({r.version: "route" for r in ep.policy.routes})
    order = [*ep.policy.versions(), *sorted(set(total) - set(ep.policy.versions()))]
    # the windows summed began at floor(since): they cover the time from there to now
    elapsed = max(now - math.floor(since / WINDOW_S) * WINDOW_S, WINDOW_S)
    versions = []
    for v in order:
        stats = summary(total.get(v) or empty())
        versions.append(VersionLive(
            v, roles.get(v, "gone"), 100.0 * ep.policy.weight_of(v) / weights,
            round(stats["requests"] / elapsed, 2), stats, seconds.get(v, [0] * span_s)))
    return Live(endpoint, ep.revision, now, window_s, span_s, versions)
