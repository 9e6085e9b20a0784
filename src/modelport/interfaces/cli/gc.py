"""``modelport gc``: remove the artifact blobs no record names, past a grace period."""

from __future__ import annotations

from typing import Annotated

import typer

from modelport.interfaces.cli.render import JsonFlag, console, emit_json


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)


def gc(
    grace: Annotated[str, typer.Option(
        help="Keep every blob stored — or found already stored by a writer — this recently, "
             "named or not: 90s, 30m, 1h, 2d. Longer than any registration or run takes "
             "to record what it stored.")] = "1h",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be deleted; delete nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete the artifact blobs that no run, model version or stream checkpoint — in any
    project — names, once older than --grace (failed registrations and deleted
    versions leave them). Safe while others register. Behind a server the server
    collects, and asks an admin key."""
    from modelport.interfaces.cli.tune import parse_duration
    from modelport.lifecycle.gc import collect_garbage

    report = collect_garbage(parse_duration(grace, "--grace"), dry_run)
    if as_json:
        emit_json(report)
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(f"{verb} {len(report.deleted):,} unnamed blob(s), {report.bytes:,} bytes; "
                  f"kept {report.named:,} named and {report.recent:,} stored within {grace}",
                  markup=False, soft_wrap=True)
