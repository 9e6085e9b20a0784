"""``modelport logs``: the prediction logs and labels a workspace keeps, as a whole."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.interfaces.cli.render import JsonFlag, console, emit_json, table

app = typer.Typer(help="Prediction logs and delayed labels kept for monitoring.",
                  no_args_is_help=True)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="logs")


@app.command("prune-orphans")
def prune_orphans(
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the orphans and their files; erase nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Erase the logs and labels of models that no longer exist (deleted before deleting
    a model erased them): a later model of the name would read them as its own. Behind a
    server: an admin key's."""
    from modelport.lifecycle.predlogs import prune_orphans as prune

    found = prune(erase=not dry_run)
    if as_json:
        emit_json(found.to_dict())
        return
    if not found.models:
        console.print("no orphaned prediction logs")
        return
    table("erased" if found.erased else "orphaned (not erased: --dry-run)",
          ["model", "files"], sorted(found.models.items()))
