"""Projects as a user looks at them: ``modelport projects list`` and ``show``.

A project exists once something is in it (``default`` always does); on a team server
the answer is what the caller's key reaches, so a key limited to one project never
learns of another.
"""

from __future__ import annotations

from modelport.core.store.projects import ProjectSummary, check_project
from modelport.core.workspace import Workspace, current
from modelport.errors import NotFoundError


def list_projects(ws: Workspace | None = None) -> list[ProjectSummary]:
    """The projects this workspace's caller may see, by name, objects counted.

    >>> [p.name for p in list_projects()]  # doctest: +SKIP
    ['default', 'vision']
    """
    return current(ws).store.projects.list_projects()


def get_project(name: str, ws: Workspace | None = None) -> ProjectSummary:
    """One of ``list_projects``; a project the caller may not see is as one that is not."""
    check_project(name)
    for project in list_projects(ws):
        if project.name == name:
            return project
    raise NotFoundError(f"project {name!r} not found — list them with: modelport projects list")
