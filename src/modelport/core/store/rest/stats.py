"""Serving statistics over REST: ``StatsRepository`` as calls to ``/api/v1/stats``."""

from __future__ import annotations

from collections.abc import Sequence

from modelport.core.store.rest.api import Api, segment
from modelport.core.store.stats import StatsRow


class RestStats:
    def __init__(self, api: Api) -> None:
        self.api = api

    def write_windows(self, rows: Sequence[StatsRow], worker: str, forget_before: float
                      ) -> None:
        self.api.call("POST", "/stats/windows", {
            "rows": [dict(r) for r in rows], "worker": worker, "forget_before": forget_before})

    def read_windows(self, endpoint: str, since: float) -> list[StatsRow]:
        return list(self.api.call("GET", f"/stats/{segment(endpoint)}", since=since))
