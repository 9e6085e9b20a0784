"""``modelport batch``, ``modelport jobs`` and ``modelport forecast``: offline scoring.

Thin: parse, call ``runtimes.batch`` / ``runtimes.forecast``, render. Progress
goes to stderr (rows, rows/s, ETA) so ``--json`` on stdout stays clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.config import DEFAULT_RUNTIME
from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.progress import steps
from modelport.interfaces.cli.render import (
    RUNTIME_HELP,
    console,
    emit_json,
    errors,
    fields,
    table,
    when,
)

batch_app = typer.Typer(help="Batch prediction over CSV/Parquet files.", no_args_is_help=True)
jobs_app = typer.Typer(help="Batch and forecast jobs: list and inspect.", no_args_is_help=True)
forecast_app = typer.Typer(help="Time-series forecasts with statsforecast.",
                           no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(forecast_app, name="forecast")


@contextmanager
def _progress(label: str, quiet: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar on stderr with rows, rows/s and ETA; silent when ``quiet``;
    off a terminal, where a bar shows nothing, a plain line every few seconds."""
    if quiet or not errors.is_terminal:
        with steps(f"{label}: starting", quiet=quiet) as say:
            yield lambda done, total: say(f"{label}: {done:,}/"
                                          f"{'?' if total is None else f'{total:,}'} rows")
        return
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s")

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed:,.0f}/{task.fields[total_text]} rows"),
                  RowsPerSecond(), TimeRemainingColumn(), console=errors,
                  transient=True) as bar:
        task = bar.add_task(label, total=None, total_text="?")

        first = [True]

        def update(done: int, total: int | None) -> None:
            text = f"{total:,}" if total is not None else "?"
            if first.pop() if first else False:  # rows done before a resume: not a speed
                bar.reset(task, completed=done, total=total, total_text=text)
                return
            bar.update(task, completed=done, total=total, total_text=text)

        yield update


# ---------------------------------------------------------------- batch predict

@batch_app.command("predict")
def predict(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    input: Annotated[str, typer.Option(
        "--input", "-i", help="CSV/Parquet file, directory, glob or fsspec URL.")],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Directory to create with the part files.")],
    format: Annotated[str, typer.Option(help="Output files: parquet or csv.")] = "parquet",
    batch_size: Annotated[int, typer.Option(help="Rows per chunk (and per part file).")] = 65_536,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (local) or actors (ray); default: every core.")] = None,
    keep: Annotated[str | None, typer.Option(
        help="Input columns to copy next to the predictions, e.g. id,date.")] = None,
    backend: Annotated[str, typer.Option(help="local or ray.")] = "local",
    ray_address: Annotated[str | None, typer.Option(
        help="Ray cluster to use (auto, HOST:6379, ray://HOST:10001).")] = None,
    on_error: Annotated[str, typer.Option(
        help="Bad rows: fail (stop), skip (count them) or quarantine (write them aside).")
    ] = "fail",
    proba: Annotated[bool, typer.Option(help="Add class probability columns.")] = True,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = DEFAULT_RUNTIME,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
    restart: Annotated[bool, typer.Option(
        help="Discard an unfinished run of this output instead of resuming it.")] = False,
    log_sample: Annotated[float, typer.Option(
        help="Share of rows whose inputs and predictions are logged to Parquet for "
             "'modelport monitor' (0 = off).")] = 0.0,
    as_json: JsonFlag = False,
) -> None:
    """Predict every row of the input into part files, published atomically at the end.

    Re-running the same command after a failure or a kill resumes from the last
    committed part.
    """
    from modelport.runtimes.batch.job import predict_job

    kept = tuple(k.strip() for k in keep.split(",") if k.strip()) if keep else ()
    with _progress(f"{ref}", quiet=as_json) as update:
        report = predict_job(ref, input, str(output), format=format, batch_size=batch_size,
                             workers=workers, keep=kept, backend=backend, on_error=on_error,
                             proba=proba, runtime=runtime, overwrite=overwrite, restart=restart,
                             ray_address=ray_address, progress=update, log_sample=log_sample)
    if as_json:
        emit_json(report.to_dict())
        return
    resumed = " (resumed)" if report.resumed else ""
    console.print(f"job {report.job.id[:12]}{resumed}: {report.rows:,} rows predicted with "
                  f"{report.job.ref} in {report.seconds:.1f} s "
                  f"({report.rows_per_second:,.0f} rows/s) → {report.output}")
    if report.failed:
        where = f", written to {report.quarantine}" if report.quarantine else " (skipped)"
        console.print(f"{report.failed:,} rows rejected{where}")
    if report.empty_files:
        console.print(f"{report.empty_files} empty input file(s) had no rows")


# ---------------------------------------------------------------- jobs

@jobs_app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option(help="running, succeeded or failed.")] = None,
    kind: Annotated[str | None, typer.Option(help="predict, forecast or monitor.")] = None,
    model: Annotated[str | None, typer.Option(help="Only jobs of this model name.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many jobs.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Jobs, newest first."""
    from modelport.runtimes.batch.jobs import list_jobs as list_

    found = list_(limit=limit, status=status, kind=kind, model=model)
    if as_json:
        emit_json([j.to_dict() for j in found])
        return
    if not found:
        return nothing("matching jobs" if status or kind or model else "jobs")
    table(None, ["job", "kind", "model", "status", "rows", "failed", "started", "seconds",
                 "output or decision"],
          ([j.id[:12], j.kind, j.ref, j.state, j.rows, j.rows_failed, when(j.started),
            j.duration, j.output if j.result is None else _decision(j.result)]
           for j in found))


def _decision(result: dict[str, Any]) -> str:
    """A monitor job's result in a few words: ``canary of iris:4 (3 drifted)``."""
    drifted = len(result.get("drifted") or [])
    challenger = f" of {result['challenger']}" if result.get("challenger") else ""
    return f"{result.get('action')}{challenger} ({drifted} drifted)"


def _status(job: Any) -> str:
    if job.state == "interrupted":
        return "interrupted (its process is gone) — re-run the same command to resume it"
    return str(job.status)


@jobs_app.command("show")
def show_job(job_id: Annotated[str, typer.Argument(help="A job id or its first characters.")],
             as_json: JsonFlag = False) -> None:
    """Everything a job recorded."""
    from modelport.runtimes.batch.jobs import get_job

    job = get_job(job_id)
    if as_json:
        emit_json(job.to_dict())
        return
    items: list[tuple[str, Any]] = [
        ("kind", job.kind), ("model", job.ref), ("status", _status(job)), ("input", job.input),
        ("input digest", job.input_digest or "-"), ("output", job.output), ("rows", job.rows),
        ("rows rejected", job.rows_failed), ("parts", job.parts),
        ("started", when(job.started)), ("ended", when(job.ended)),
        ("duration s", job.duration)]
    if job.error:
        items.append(("error", job.error))
    console.print(f"job {job.id}", soft_wrap=True)  # on its own line, to copy whole
    fields(None, items)
    if job.result:  # a monitor job's decision; column names are the user's: no markup
        from rich.markup import escape

        fields("result", [(k.replace("_", " "), escape(", ".join(v)) if isinstance(v, list)
                           else escape(v) if isinstance(v, str) else v)
                          for k, v in job.result.items() if v not in (None, [])])
    if job.options:
        table("options", ["option", "value"],
              sorted((k, str(v)) for k, v in job.options.items() if k != "process"))


# ---------------------------------------------------------------- forecast

def _numbers(text: str, what: str) -> list[int]:
    from modelport.errors import InvalidInputError

    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInputError(f"{what} takes whole numbers separated by commas, got {text!r}"
                                ) from None


@forecast_app.command("train")
def forecast_train(
    data: Annotated[str, typer.Option(
        help="CSV/Parquet of series in long form, or statsforecast:air_passengers.")],
    name: Annotated[str, typer.Option(help="Model name to register the forecast under.")],
    horizon: Annotated[int, typer.Option(help="Steps ahead to forecast and to validate on.")],
    time_col: Annotated[str, typer.Option(help="Time column (dates or whole numbers).")] = "ds",
    target: Annotated[str, typer.Option(help="Column to forecast.")] = "y",
    id_col: Annotated[str | None, typer.Option(
        help="Series id column; without it the data is one series.")] = None,
    season_length: Annotated[int | None, typer.Option(
        help="Steps per season; default from the time step (12 for monthly, 7 for daily …).")
    ] = None,
    freq: Annotated[str | None, typer.Option(
        help="Time step as a pandas alias (D, W, MS, h); default: inferred.")] = None,
    models: Annotated[str, typer.Option(help="Candidates, comma-separated.")] =
        "AutoARIMA,AutoETS,Theta,SeasonalNaive",
    cv_windows: Annotated[int, typer.Option(help="Cross-validation windows per series.")] = 2,
    levels: Annotated[str, typer.Option(help="Prediction interval levels, e.g. 80,95.")] = "80,95",
    as_json: JsonFlag = False,
) -> None:
    """Choose a model per series by cross-validation and register the result."""
    from modelport.runtimes.forecast.train import train_forecast

    with steps(f"cross-validating {models.replace(',', ', ')} on every series",
               quiet=as_json):
        result = train_forecast(data, name=name, horizon=horizon, time_col=time_col,
                                target=target, id_col=id_col, season_length=season_length,
                                freq=freq,
                                models=[m.strip() for m in models.split(",") if m.strip()],
                                cv_windows=cv_windows, levels=_numbers(levels, "--levels"))
    if as_json:
        emit_json(result.to_dict())
        return
    won = ", ".join(f"{m} {n}" for m, n in result.chosen.items())
    console.print(f"registered {result.version.ref}: {result.series:,} series "
                  f"(chosen: {won}), cross-validated MAE {result.cv_mae:.4g}, "
                  f"{result.seconds:.1f} s")


@forecast_app.command("predict")
def forecast_predict(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    horizon: Annotated[int | None, typer.Option(
        help="Steps ahead; default: the horizon it was trained for.")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the forecasts here (.csv or .parquet).")] = None,
    levels: Annotated[str | None, typer.Option(help="Interval levels, e.g. 80,95.")] = None,
    workers: Annotated[int | None, typer.Option(help="Processes; default every core.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show when not writing a file.")] = 12,
    as_json: JsonFlag = False,
) -> None:
    """Forecast every series of a registered forecast model, with prediction intervals."""
    import warnings

    from rich.markup import escape

    from modelport.runtimes.forecast.predict import PastHorizonWarning, forecast

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PastHorizonWarning)
        frame = forecast(ref, horizon=horizon, output=output, workers=workers,
                         levels=_numbers(levels, "--levels") if levels else None)
    for warning in caught:  # one line each on stderr; anything else as Python would show it
        if issubclass(warning.category, PastHorizonWarning):
            errors.print(f"[yellow]warning:[/yellow] {escape(str(warning.message))}",
                         soft_wrap=True)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
    if as_json:
        emit_json({"job": frame.attrs.get("job"), "rows": len(frame), "output": str(output)
                   if output else None,
                   "forecasts": frame.head(limit).astype({frame.columns[1]: str})
                   .to_dict(orient="records")})
        return
    if output is not None:
        series = frame.iloc[:, 0].nunique()
        console.print(f"wrote {len(frame):,} forecasts ({series:,} series) to {output}")
        return
    table(ref, list(frame.columns), frame.head(limit).astype({frame.columns[1]: str})
          .itertuples(index=False))
