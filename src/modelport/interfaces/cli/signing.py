"""``modelport keys signing``: the Ed25519 keys edge bundles are signed with."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from modelport.interfaces.cli.render import JsonFlag, console, emit_json, table

signing_app = typer.Typer(help="Signing keys for edge bundles (devices trust the public key).",
                          no_args_is_help=True)


@signing_app.command("create")
def create(name: Annotated[str, typer.Argument(help="A name for the key, e.g. release.")],
           as_json: JsonFlag = False) -> None:
    """Create a key pair; the private key stays in $MODELPORT_HOME/signing (mode 0600)."""
    from modelport.runtimes.edge.signing import create_signing_key

    key = create_signing_key(name)
    if as_json:
        emit_json(key)
        return
    console.print(f"signing key {key.name} (id {key.key_id}) in {key.path}")
    console.print(f"give devices its public key: modelport keys signing public {key.name} "
                  f"--out {key.name}.pub")


@signing_app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """Signing keys on this machine, with the ids bundles and devices name them by."""
    from modelport.runtimes.edge.signing import list_signing_keys

    keys = list_signing_keys()
    if as_json:
        emit_json(keys)
        return
    table(None, ["name", "key id", "path"], ([k.name, k.key_id, str(k.path)] for k in keys))


@signing_app.command("public")
def public(name: Annotated[str, typer.Argument(help="The signing key's name.")],
           out: Annotated[Path | None, typer.Option(
               help="Write the PEM public key here instead of printing it.")] = None) -> None:
    """The public key (PEM) devices trust: pass it to the agent with --trust."""
    from modelport.runtimes.edge.signing import public_pem

    pem = public_pem(name)
    if out is None:
        sys.stdout.write(pem.decode())
        return
    out.write_bytes(pem)
    console.print(f"wrote {out}")
