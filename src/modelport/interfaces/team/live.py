"""``GET /api/v1/endpoints/NAME/live``: each version's requests/s, errors, p99 and shadow
agreement over the last seconds, for a page watching a release (``control.live``).

The change feed (``/api/v1/feed``) says when a policy or a rollout moves; these
numbers change every second with the traffic, so a page reads them on a timer.
"""

from __future__ import annotations

from litestar import Router, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery

from modelport.control.live import Live, live
from modelport.interfaces.team.access import needs
from modelport.interfaces.team.inputs import storable_request


@get("/", guards=[needs("read")], sync_to_thread=True)
def endpoint_live(state: State, name: FromPath[str], window_s: FromQuery[float] = 10.0,
                  span_s: FromQuery[int] = 60) -> Live:
    """Per version: its role and share in the policy, the analysis' summary of the last
    ``window_s`` seconds, and its requests in each of the last ``span_s`` seconds."""
    return live(name, window_s, span_s, ws=state.ws)


router = Router("/api/v1/endpoints/{name:str}/live", route_handlers=[endpoint_live],
                tags=["endpoints"], before_request=storable_request)
