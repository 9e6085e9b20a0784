"""``/api/v1/stats``: serving workers write their statistics windows, pages read them."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Router, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from modelport.core.store.stats import StatsRow
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request


@dataclass
class Windows:
    rows: list[StatsRow]
    worker: str
    forget_before: float


@post("/windows", guards=[needs("write")], status_code=204, sync_to_thread=True)
def write_windows(store: ProjectStore, data: JSONBody[Windows]) -> None:
    storable(data)
    store.stats.write_windows(data.rows, data.worker, data.forget_before)


@get("/{endpoint:str}", guards=[needs("read")], sync_to_thread=True)
def read_windows(store: ProjectStore, endpoint: FromPath[str], since: FromQuery[float] = 0.0
                 ) -> list[StatsRow]:
    return store.stats.read_windows(endpoint, since)  # type: ignore[no-any-return]


router = Router("/api/v1/stats", route_handlers=[write_windows, read_windows],
    tags=["stats"], before_request=storable_request)
