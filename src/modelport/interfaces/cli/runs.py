"""``modelport runs``: list, search and inspect training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.render import JsonFlag, console, emit_json, fields, table, when

app = typer.Typer(help="Training runs: search and inspect.", no_args_is_help=True)



@app.command("list")
def list_runs(
    filter: Annotated[str | None, typer.Option(
        "--filter", "-f",
        help="e.g. \"metrics.accuracy > 0.9 and params.max_depth = '5'\"")] = None,
    order_by: Annotated[list[str] | None, typer.Option(
        "--order-by", "-o", help="e.g. 'metrics.accuracy DESC' (repeatable)")] = None,
    experiment: Annotated[str | None, typer.Option(help="Only runs of this experiment.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 20,
    page_token: Annotated[str | None, typer.Option(help="Continue a previous listing.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    from modelport.lifecycle.search import search_runs

    page = search_runs(filter, order_by, experiment=experiment, max_results=limit,
                       page_token=page_token)
    if as_json:
        emit_json({"runs": page.runs, "next_page_token": page.next_page_token})
        return
    if not page.runs:
        return nothing("matching runs" if filter or experiment else "runs")
    keys = sorted({k for r in page.runs for k in r.metrics if k.startswith("test_")})[:4]
    table(None, ["run", "name", "status", "started", "seconds", *keys],
          ([r.id[:12], r.name, r.status, when(r.start_time), r.duration,
            *(r.metrics.get(k) for k in keys)] for r in page.runs))
    if page.next_page_token:
        console.print(f"more: --page-token {page.next_page_token}")


@app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="A run id or any unique start of it.")],
         as_json: JsonFlag = False) -> None:
    """Everything a run recorded."""
    from modelport.lifecycle.search import get_run

    run = get_run(run_id)
    if as_json:
        emit_json(run)
        return
    console.print(f"run {run.id}", soft_wrap=True)  # on its own line, to copy whole
    fields(None, [
        ("name", run.name), ("experiment", run.experiment), ("status", run.status),
        ("started", when(run.start_time)), ("duration s", run.duration),
        ("dataset", run.dataset_digest or "-"), ("git commit", run.git_commit or "-"),
        ("packages", ", ".join(f"{k} {v}" for k, v in run.packages.items()))])
    for title, values in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags),
                          ("artifacts", run.artifacts)):
        if values:
            table(title, ["key", "value"], sorted(values.items()))


@app.command("artifacts")
def artifacts(
    run_id: Annotated[str, typer.Argument(help="A run id or any unique start of it.")],
    path: Annotated[str | None, typer.Argument(
        help="One artifact, or a folder of them, to download (default: list them; with --out, "
             "download every one).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Directory to download into (default: the current one).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List a run's artifacts, or download them (digests checked, nothing written outside --out)."""
    from modelport.lifecycle.downloads import download_artifact
    from modelport.lifecycle.search import get_run

    if path is None and out is None:
        run = get_run(run_id)
        if as_json:
            emit_json(run.artifacts)
        elif not run.artifacts:
            console.print(f"run {run.id} logged no artifacts")
        else:
            table(None, ["path", "sha256"], ((p, d[:16]) for p, d in sorted(run.artifacts.items())))
        return
    written = download_artifact(run_id, path, out or Path("."))
    if as_json:
        emit_json([str(p) for p in written])
        return
    for file in written:
        console.print(f"[green]✓[/green] {file} ({file.stat().st_size:,} bytes)", soft_wrap=True)
