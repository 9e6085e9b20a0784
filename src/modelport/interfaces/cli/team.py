"""``modelport server``: the team control plane over a shared metadata store."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.errors import InvalidInputError
from modelport.interfaces.cli.render import console
from modelport.interfaces.cli.serve import port_number

LOOPBACK = "127.0.0.1"  # modelport ui's only address: its trust is the owner's loopback


def register(app: typer.Typer) -> None:
    app.command("server")(server)
    app.command("ui")(ui)


def server(
    db: Annotated[str | None, typer.Option(
        "--db", help="Metadata database URL [env: MODELPORT_DB_URL; default: the workspace's "
                     "SQLite file]")] = None,
    artifacts: Annotated[str | None, typer.Option(
        "--artifacts", help="Artifact store URL [env: MODELPORT_ARTIFACTS_URL]")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(parser=port_number, help="Port to listen on.")] = 8080,
    auth: Annotated[str, typer.Option(
        help="on: every /api/v1 call needs a key; off: none do (loopback only).")] = "on",
    log_retention: Annotated[str | None, typer.Option(
        help="Remove prediction logs and labels kept here once older than this "
             "(e.g. 30d); kept forever by default.")] = None,
) -> None:
    """Serve runs and the model registry over REST (/api/v1, OpenAPI at /api/v1/openapi.json).

    Every /api/v1 route needs an API key; the first start prints an admin key once.
    """
    if not 0 < port <= 65_535:
        raise InvalidInputError(f"--port must be 1 to 65535, not {port}")
    from modelport.config import Settings
    from modelport.core.workspace import Workspace
    from modelport.errors import require
    from modelport.interfaces.team import create_app
    from modelport.interfaces.team.access import bootstrap_key, check_listening

    if auth not in ("on", "off"):
        raise InvalidInputError(f"--auth must be on or off, not {auth!r}")
    from modelport.interfaces.cli.tune import parse_duration

    retention_s = parse_duration(log_retention, "--log-retention") if log_retention else None
    check_listening(host, auth == "on")
    uvicorn = require("uvicorn", "server")
    require("litestar", "server")
    ws = Workspace.open(Settings.from_env(remote=False, db_url=db, artifacts_url=artifacts))
    secret = bootstrap_key(ws) if auth == "on" else None
    if secret is not None:
        console.print("[bold]admin key (shown once, only its hash is stored):[/bold]")
        console.print(secret, markup=False, highlight=False, soft_wrap=True)
    console.print(f"modelport server on http://{host}:{port}/api/v1 (dashboard at /)",
                  markup=False)
    log_requests()
    uvicorn.run(create_app(ws, auth=auth == "on", log_retention_s=retention_s), host=host,
                port=port, log_level="warning")


def log_requests() -> None:
    """One JSON access log line per request on stderr (``observe`` writes them)."""
    import logging
    import sys

    from modelport.interfaces.team.observe import access_log

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False


def ui(
    port: Annotated[int, typer.Option(parser=port_number, help="Port to listen on.")] = 8765,
) -> None:
    """Open the web dashboard on this workspace at http://127.0.0.1:PORT (no key needed).

    It listens on loopback only and trusts only requests from its own page there;
    to share a workspace with a team, run `modelport server` (login by key).
    """
    if not 0 < port <= 65_535:
        raise InvalidInputError(f"--port must be 1 to 65535, not {port}")
    from modelport.config import Settings
    from modelport.core.workspace import Workspace
    from modelport.errors import require
    from modelport.interfaces.team import create_app

    uvicorn = require("uvicorn", "server")
    require("litestar", "server")
    ws = Workspace.open(Settings.from_env(remote=False))  # this machine's own workspace
    console.print(f"modelport dashboard on http://127.0.0.1:{port}/", markup=False)
    uvicorn.run(create_app(ws, local=True), host=LOOPBACK, port=port, log_level="warning")
