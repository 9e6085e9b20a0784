"""The store as a client of ``modelport server``: ``open_store("http(s)://…")``.

Every repository goes over the server's REST API with the key in
``MODELPORT_TOKEN``, one module per concept group; each method is one HTTP
call, and the server's JSON error comes back as the same ``ModelportError``
class.
"""

from __future__ import annotations

from modelport.core.store.projects import DEFAULT_PROJECT, check_project
from modelport.core.store.rest.api import Api
from modelport.core.store.rest.devices import RestDevices
from modelport.core.store.rest.endpoints import RestEndpoints
from modelport.core.store.rest.jobs import RestJobs
from modelport.core.store.rest.keys import RestKeys
from modelport.core.store.rest.projects import RestProjects
from modelport.core.store.rest.registry import RestRegistry
from modelport.core.store.rest.runs import RestRuns
from modelport.core.store.rest.stats import RestStats
from modelport.core.store.rest.streams import RestStreams


class RestStore:
    """Every repository of a ``modelport server``, over one connection pool."""

    def __init__(self, url: str, token: str | None = None, project: str = DEFAULT_PROJECT
                 ) -> None:
        self.url, self.token, self.project = url, token, check_project(project)
        self.api = Api.connect(url, token, project)
        self.runs = RestRuns(self.api)
        self.registry = RestRegistry(self.api)
        self.keys = RestKeys(self.api)
        self.jobs = RestJobs(self.api)
        self.streams = RestStreams(self.api)
        self.endpoints = RestEndpoints(self.api)
        self.stats = RestStats(self.api)
        self.devices = RestDevices(self.api)
        self.projects = RestProjects(self.api)

    def in_project(self, project: str) -> RestStore:
        """The same server as ``project`` sees it (a new connection pool: close it)."""
        return RestStore(self.url, self.token, project)

    def close(self) -> None:
        """Close the connections to the server."""
        self.api.client.close()
