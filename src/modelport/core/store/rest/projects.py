"""Projects over REST: ``ProjectListing`` as a call to ``/api/v1/projects``.

The server answers with the projects the caller's key reaches, so a key limited to
one project never learns that another exists.
"""

from __future__ import annotations

from modelport.core.store.projects import ProjectSummary
from modelport.core.store.rest.api import Api


class RestProjects:
    def __init__(self, api: Api) -> None:
        self.api = api

    def list_projects(self) -> list[ProjectSummary]:
        return [ProjectSummary(**p) for p in self.api.call("GET", "/projects")]
