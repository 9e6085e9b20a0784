"""The ``modelport`` command: thin — parse, call the library, render.

Every ``ModelportError`` becomes one line on stderr and exit code 1; no
traceback reaches a user for a mistake they can fix.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from modelport.errors import ModelportError
from modelport.interfaces.cli import models, runs
from modelport.interfaces.cli.render import errors

app = typer.Typer(
    name="modelport",
    help="Train, register, deploy and roll out machine-learning models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")


@app.callback()
def _settings(
    home: Annotated[Path | None, typer.Option(
        help="Where embedded metadata and artifacts live [env: MODELPORT_HOME; default: the "
             "nearest .modelport/ in this directory or a parent, else ./.modelport]"
    )] = None,
    db_url: Annotated[str | None, typer.Option(
        help="Metadata database URL, e.g. postgresql+psycopg://host/db [env: MODELPORT_DB_URL]"
    )] = None,
    project: Annotated[str | None, typer.Option(
        help="The project whose runs, studies, models, endpoints and jobs a command sees and "
             "makes [env: MODELPORT_PROJECT; default: default]"
    )] = None,
) -> None:
    if home is not None:
        os.environ["MODELPORT_HOME"] = str(home)
    if db_url is not None:
        os.environ["MODELPORT_DB_URL"] = db_url
    if project is not None:
        os.environ["MODELPORT_PROJECT"] = project


# imported for their @app.command registrations
from modelport.interfaces.cli import (  # noqa: E402
    batch,
    deploy,
    edge,
    gc,
    login,
    logs,
    monitor,
    predict,
    projects,
    quickstart,
    release,
    serve,
    stream,
    team,
    train,
    tune,
)

for module in (quickstart, train, tune, predict, serve, release, batch, stream, edge, monitor,
               team, login, deploy, projects, gc, logs):
    module.register(app)


def run() -> None:
    """Console-script entry point."""
    try:
        app()
    except ModelportError as exc:
        # the message is text, not markup: "modelport[postgres]" must print as typed
        errors.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
