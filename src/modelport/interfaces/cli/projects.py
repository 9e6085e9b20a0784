"""``modelport projects``: which projects there are and what each holds."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.interfaces.cli.render import JsonFlag, emit_json, fields, table

app = typer.Typer(help="Projects: what runs, models, endpoints, jobs and streams belong to.",
                  no_args_is_help=True)
COUNTED = ("runs", "models", "endpoints", "jobs", "streams")


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="projects")


@app.command("list")
def list_projects(as_json: JsonFlag = False) -> None:
    """Every project you may see (on a server: those your key reaches), objects counted."""
    from modelport.lifecycle.projects import list_projects

    found = list_projects()
    if as_json:
        emit_json([p.to_dict() for p in found])
        return
    table(None, ["project", *COUNTED],
          ([p.name, *(getattr(p, kind) for kind in COUNTED)] for p in found))


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="The project's name.")],
         as_json: JsonFlag = False) -> None:
    """How many runs, models, endpoints, jobs and streams one project holds."""
    from modelport.lifecycle.projects import get_project

    project = get_project(name)
    if as_json:
        emit_json(project.to_dict())
        return
    fields(f"project {project.name}", [(kind, getattr(project, kind)) for kind in COUNTED])
