"""The studies' journal over REST: ``StudiesRepository`` as calls to ``/api/v1/studies``."""

from __future__ import annotations

from typing import Any

from modelport.core.store.rest.api import Api
from modelport.core.store.studies import MAX_READ


class RestStudies:
    def __init__(self, api: Api) -> None:
        self.api = api

    def read_journal(self, start: int, limit: int = MAX_READ) -> list[dict[str, Any]]:
        return list(self.api.call("GET", "/studies/journal", start=start, limit=limit))

    def append_journal(self, entries: list[dict[str, Any]]) -> None:
        if entries:
            self.api.call("POST", "/studies/journal", {"entries": entries})
