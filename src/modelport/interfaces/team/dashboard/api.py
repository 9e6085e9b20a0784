"""The two reads the dashboard needs beyond the runs and registry routes.

``/api/v1/whoami`` tells the page which scopes its key has, so a read key is
never shown a button the server would refuse (the server refuses it anyway).
``/api/v1/runs/{id}/metrics/{key}/buckets`` sends a metric's history cut to the
chart's width (``lifecycle.history``), so a comparison of runs with long
histories costs a few kilobytes, not megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Request, get
from litestar.params import FromPath, FromQuery

from modelport.errors import InvalidInputError
from modelport.interfaces.team.access import OWNER, ProjectStore, needs, presented_key
from modelport.lifecycle.history import MAX_BUCKETS, Bucket, downsample


@dataclass
class Identity:
    id: str
    name: str
    scopes: list[str]
    models: list[str] | None
    local: bool


@dataclass
class History:
    points: int  # how many values were logged, before cutting
    buckets: list[Bucket]


@get("/api/v1/whoami", tags=["dashboard"])
async def whoami(request: Request) -> Identity:  # type: ignore[type-arg]
    """The presented key's name and scopes (401 without a known key)."""
    key = await presented_key(request)
    models = None if key.models is None else list(key.models)
    return Identity(key.id, key.name, list(key.scopes), models, key is OWNER)


@get("/api/v1/runs/{run_id:str}/metrics/{key:str}/buckets", guards=[needs("read")],
     sync_to_thread=True, tags=["runs"])
def metric_buckets(store: ProjectStore, run_id: FromPath[str], key: FromPath[str],
                   n: FromQuery[int] = 800) -> History:
    """Min, max and last value per step range, at most ``n`` ranges."""
    if not 1 <= n <= MAX_BUCKETS:
        raise InvalidInputError(f"n must be 1 to {MAX_BUCKETS}")
    points = store.runs.metric_history(run_id, key)
    return History(len(points), downsample(points, n))
