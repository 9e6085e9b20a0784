"""``/api/v1/projects``: the projects a key reaches, each with its objects counted.

The one route about every project rather than the one a request names: a key limited
to some projects lists exactly those (empty ones too — it may work in them), never
another that exists; a key reaching all lists them all, as the store does. A key
limited to some models counts only those.
"""

from __future__ import annotations

import dataclasses

from litestar import Router, get
from litestar.datastructures import State

from modelport.core.keys import ApiKey
from modelport.core.store.projects import ProjectsRepository, ProjectSummary
from modelport.interfaces.team.access import PresentedKey, needs


def reached(projects: ProjectsRepository, key: ApiKey) -> list[ProjectSummary]:
    """What ``key`` may know of the store's projects (see the module's docstring)."""
    found = {p.name: p for p in projects.list_projects()}
    every = key.project_set is None or "admin" in key.scopes
    names = found if every else key.project_set
    summaries = [found.get(name, ProjectSummary(name)) for name in sorted(names or ())]
    if key.model_set is None or not key.restricted:
        return summaries
    seen = key.model_set
    return [dataclasses.replace(p, models=len(projects.keys_in("models", p.name) & seen))
            for p in summaries]


@get("/", guards=[needs("read", across=True)], sync_to_thread=True)
def list_projects(state: State, api_key: PresentedKey) -> list[ProjectSummary]:
    return reached(state.base_store.projects, api_key)


router = Router("/api/v1/projects", route_handlers=[list_projects], tags=["projects"])
