"""``modelport serve`` and ``modelport keys``: the inference server and who may call it."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.config import DEFAULT_RUNTIME
from modelport.errors import InvalidInputError
from modelport.interfaces.cli.render import RUNTIME_HELP, console, emit_json, table, when
from modelport.interfaces.cli.signing import signing_app

keys_app = typer.Typer(help="API keys for the inference server.", no_args_is_help=True)
keys_app.add_typer(signing_app, name="signing")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")


def port_number(text: str) -> int:
    """``--port``: a mistyped one is one error line, like every other bad setting (the
    range is checked with them, in ``server.check``)."""
    try:
        return int(text)
    except ValueError:
        raise InvalidInputError(f"--port must be a number, not {text!r}") from None


def serve(
    refs: Annotated[list[str] | None, typer.Argument(
        help="Models to serve (NAME, NAME:VERSION, NAME@ALIAS); default: every model's "
             "champion, else its latest version.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(parser=port_number, help="Port to listen on.")] = 8000,
    grpc_port: Annotated[int | None, typer.Option(
        parser=port_number, help="Also answer OIP over gRPC on this port "
                                 "(tritonclient.grpc, KServe and Triton tools).")] = None,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = DEFAULT_RUNTIME,
    auth: Annotated[str, typer.Option(
        help="API keys: auto (required once any key exists), on or off.")] = "auto",
    insecure: Annotated[bool, typer.Option(
        help="Allow a non-loopback address without authentication.")] = False,
    max_batch: Annotated[int, typer.Option(help="Most rows per model call.")] = 256,
    batching: Annotated[bool, typer.Option(help="Merge concurrent requests.")] = True,
    max_body_mb: Annotated[float, typer.Option(help="Largest request body, MiB.")] = 10.0,
    busy_poll_us: Annotated[float | None, typer.Option(
        help="After answering, poll for the next request up to this long before sleeping "
             "(adaptive; default 200; 0 = off, for the least CPU).")] = None,
    max_connections: Annotated[int | None, typer.Option(
        help="Open connections per worker; over it a new one replaces the longest idle "
             "or slowest-sending one, else gets 503 (default 1000, fewer under a low "
             "'ulimit -n').")] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    controller: Annotated[bool, typer.Option(
        help="Run the rollout controller in the server.")] = True,
    log_sample: Annotated[float, typer.Option(
        help="Share of requests whose inputs and predictions are logged to Parquet for "
             "'modelport monitor' (e.g. 0.1; 0 = off).")] = 0.0,
    log_retention: Annotated[str | None, typer.Option(
        help="Remove logged hours, and the delayed labels' hours beside them, older than "
             "this (e.g. 7d, 12h); default: keep all.")] = None,
) -> None:
    """Serve registered models over OIP v2, KServe v1 and MLflow's scoring protocol."""
    from modelport.interfaces.cli.tune import parse_duration
    from modelport.interfaces.server import ServeConfig, access, run

    config = ServeConfig(refs=refs or [], host=host, port=port, grpc_port=grpc_port,
                         workers=workers,
                         runtime=runtime, auth=auth, insecure=insecure, max_batch=max_batch,
                         batching=batching, max_body=int(max_body_mb * 1024 * 1024),
                         # unset: ServeConfig's default, the one place it is written
                         **({} if busy_poll_us is None else {"busy_poll_us": busy_poll_us}),
                         max_connections=max_connections, access_log=access_log,
                         controller=controller, log_sample=log_sample,
                         log_retention_s=parse_duration(log_retention, "--log-retention")
                         if log_retention else None)

    def announce() -> None:  # every setting and reference checked, the port bound
        grpc = f" and gRPC on {host}:{grpc_port}" if grpc_port is not None else ""
        console.print(f"modelport serving on http://{host}:{port}{grpc} "
                      f"({workers} worker{'s' if workers > 1 else ''}) — {access(config)}; "
                      "Ctrl-C to stop", soft_wrap=True)

    run(config, announce)


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="predict, read, write (runs and models, through modelport server), "
                        "deploy (endpoints, rollouts, alias moves; includes write), "
                        "feedback (labels for rollout analysis; not "
                        "implied by predict) or admin (repeatable; default predict).")] = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="Limit the key to these model names (repeatable).")] = None,
    project: Annotated[list[str] | None, typer.Option(
        "--project", help="Limit the key to these projects (repeatable); other projects "
                          "look absent to it.")] = None,
    rate_limit: Annotated[float | None, typer.Option(
        help="Requests per second this key may make.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create an API key; its secret is printed once and never stored."""
    from modelport.core.keys import create_key

    key, secret = create_key(name, scope or ["predict"], model, rate_limit, projects=project)
    if as_json:
        emit_json({**key.to_dict(), "secret": secret})
        return
    limits = f" in {', '.join(key.projects)}" if key.projects else ""
    console.print(f"key {key.id} ({', '.join(key.scopes)}{limits}) for {name}:")
    console.print(secret, soft_wrap=True)
    console.print("store it now — it cannot be shown again. Clients send it as "
                  "'Authorization: Bearer KEY'.")


@keys_app.command("list")
def list_(all_: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
          as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Keys with their scopes, models and limits (never their secrets)."""
    from modelport.core.keys import list_keys

    keys = list_keys(include_revoked=all_)
    if as_json:
        emit_json(keys)
        return
    table(None, ["id", "name", "scopes", "projects", "models", "rate/s", "created", "revoked"],
          ([k.id, k.name, ", ".join(k.scopes), ", ".join(k.projects or ["all"]),
            ", ".join(k.models or ["all"]), k.rate_limit,
            when(k.created), when(k.revoked)] for k in keys))


@keys_app.command("revoke")
def revoke(key_id: str) -> None:
    """Revoke a key; running servers refuse it within seconds."""
    from modelport.core.keys import revoke_key

    revoke_key(key_id)
    console.print(f"revoked {key_id}")
