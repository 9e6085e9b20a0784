"""``GET /api/v1/endpoints/NAME/live``: each version's requests/s, errors, p99 and shadow
agreement over the last seconds, for a page watching a release (``control.live``).

A page reads them once, then follows them on the change feed (``/api/v1/feed``,
topic ``stats``), which reads them once a second for all of an endpoint's
followers (``reader``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from litestar import Router, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery

from modelport.control.live import Live, live
from modelport.core.workspace import Workspace
from modelport.interfaces.team.access import needs
from modelport.interfaces.team.inputs import storable_request


@get("/", guards=[needs("read")], sync_to_thread=True)
def endpoint_live(state: State, name: FromPath[str], window_s: FromQuery[float] = 10.0,
                  span_s: FromQuery[int] = 60) -> Live:
    """Per version: its role and share in the policy, the analysis' summary of the last
    ``window_s`` seconds, and its requests in each of the last ``span_s`` seconds."""
    return live(name, window_s, span_s, ws=state.ws)


FEED_WINDOW_S = 5.0  # what the dashboard's endpoint page shows


def reader(ws: Workspace) -> Callable[[str], dict[str, object]]:
    """The change feed's ``stats`` source: an endpoint's numbers as JSON-ready data."""
    return lambda name: asdict(live(name, FEED_WINDOW_S, ws=ws))


router = Router("/api/v1/endpoints/{name:str}/live", route_handlers=[endpoint_live],
                tags=["endpoints"], before_request=storable_request)
