"""``modelport stream``: run a consumer, see how every consumer is doing, and
register what a consumer has learnt. Thin: parse, call ``runtimes.stream``, render."""

from __future__ import annotations

import gc
import signal
import threading
import time
from typing import Annotated, Any

import typer

from modelport.config import DEFAULT_RUNTIME
from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.progress import Steps
from modelport.interfaces.cli.render import (
    RUNTIME_HELP,
    JsonFlag,
    console,
    emit_json,
    errors,
    table,
)

stream_app = typer.Typer(help="Streaming inference and online learning.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(stream_app, name="stream")


@stream_app.command("run")
def run(
    ref: Annotated[str, typer.Argument(help="NAME, NAME:VERSION or NAME@ALIAS")],
    source: Annotated[str, typer.Option(
        help="Events to read: redis://HOST:PORT/STREAM, nats://HOST:PORT/SUBJECT, "
             "mqtt://HOST:PORT/TOPIC")],
    sink: Annotated[str, typer.Option(help="Where predictions go (same URL forms).")],
    group: Annotated[str, typer.Option(help="Consumer group: its members share the events.")
                     ] = "modelport",
    consumer: Annotated[str, typer.Option(help="This member's name in the group.")
                        ] = "consumer-1",
    name: Annotated[str | None, typer.Option(help="The stream's name in `stream status` "
                                             "[default: the group]")] = None,
    learn: Annotated[bool, typer.Option(help="Learn from --labels (online models).")] = False,
    labels: Annotated[str | None, typer.Option(help="Labels to learn from, joined by event id.")
                      ] = None,
    dead_letter: Annotated[str | None, typer.Option(
        help="Where malformed events go [default: the source with a .dead suffix]")] = None,
    batch_size: Annotated[int, typer.Option(help="Most events per model call.")] = 256,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = DEFAULT_RUNTIME,
    checkpoint_events: Annotated[int, typer.Option(help="Checkpoint after this many events.")
                                 ] = 20_000,
    checkpoint_seconds: Annotated[float, typer.Option(help="… or after this many seconds.")
                                  ] = 5.0,
    join_seconds: Annotated[float, typer.Option(
        help="How long a prediction waits for its label.")] = 3600.0,
    claim_after: Annotated[float, typer.Option(
        help="Take over a silent group member's pending events after this many seconds.")
                           ] = 30.0,
    drift: Annotated[str, typer.Option(help="Error drift detector: adwin, page_hinkley or off.")
                     ] = "adwin",
    on_drift: Annotated[str, typer.Option(help="none, reset (forget and relearn) or retrain.")
                        ] = "none",
    retrain_data: Annotated[str | None, typer.Option(
        help="Data for `modelport retrain` when --on-drift retrain.")] = None,
    max_events: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
    exit_when_idle: Annotated[float | None, typer.Option(
        help="Stop once nothing has arrived for this many seconds (drain a backlog).")
                              ] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="Serve Prometheus /metrics on this port (127.0.0.1).")] = None,
    log_sample: Annotated[float, typer.Option(
        help="Share of event batches whose inputs and predictions are logged to Parquet "
             "for 'modelport monitor' (0 = off).")] = 0.0,
    log_retention: Annotated[str | None, typer.Option(
        help="Remove logged hours, and the delayed labels' hours beside them, older than "
             "this (e.g. 7d); default: keep all.")] = None,
) -> None:
    """Consume events, predict, publish; with --learn, keep learning from labels."""
    from modelport.interfaces.cli.tune import parse_duration
    from modelport.runtimes.prediction_log import check_sample
    from modelport.runtimes.stream.runner import StreamConfig, StreamRunner

    config = StreamConfig(
        source=source, sink=sink, group=group, consumer=consumer, name=name, labels=labels,
        learn=learn, dead_letter=dead_letter, batch_size=batch_size, runtime=runtime,
        checkpoint_events=checkpoint_events, checkpoint_seconds=checkpoint_seconds,
        join_seconds=join_seconds, claim_after=claim_after, drift=drift, on_drift=on_drift,
        retrain_data=retrain_data, log_sample=check_sample(log_sample),
        log_retention_s=parse_duration(log_retention, "--log-retention") if log_retention
        else None)
    runner = StreamRunner(ref, config, say=lambda msg: errors.print(msg))
    # a long-lived consumer: what is loaded now stays, so keep it out of the collector's
    # scans, and collect young objects less often (events make many short-lived ones)
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if metrics_port is not None:
        from modelport.runtimes.stream.exporter import render, serve_metrics

        serve_metrics(metrics_port, lambda: render(str(config.name), consumer, runner.ref,
                                                   runner.stats.to_dict()))
    errors.print(f"{runner.ref}: {source} → {sink} (group {group}, consumer {consumer}"
                 + (", learning" if learn else "") + ")")
    reporter = Steps(f"{runner.ref}: waiting for events")
    ended = threading.Event()

    def count() -> None:  # the counters, as a spinner or (off a terminal) a line now and then
        while not ended.wait(1.0):
            reporter.say(_counters(runner.ref, runner.stats))

    threading.Thread(target=count, name="modelport-stream-progress", daemon=True).start()
    try:
        stats = runner.run(stop, max_events=max_events, idle_exit=exit_when_idle)
    finally:
        ended.set()
        reporter.close(finished=False)  # the totals follow
    errors.print(f"stopped after {stats.events} events: {stats.predictions} predictions, "
                 f"{stats.dead_letters} dead letters, {stats.learnt} labels learnt")


@stream_app.command("status")
def status(
    name: Annotated[str | None, typer.Argument(help="One stream; all by default.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Lag, throughput, pending events, online score and drift per consumer."""
    from modelport.runtimes.stream.progress import list_streams

    records = list_streams(name)
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    if not records:
        return nothing(f"stream {name!r}" if name else "streams",
                       " — start one with: modelport stream run REF --source URL --sink URL")
    table("streams", ["stream", "consumer", "model", "state", "started", "events ¹",
                      "events/s", "lag", "pending", "learnt ²", "score ¹", "drifts ¹",
                      "checkpoint ²", "seen"],
          [_row(r) for r in records])
    # a restart zeroes some counters and not others: say which, or the numbers contradict
    console.print("¹ since the consumer started · ² in total: kept across restarts by the "
                  "checkpoint · events/s, lag and pending: now", soft_wrap=True)


def _counters(ref: str, s: Any) -> str:
    lag = "" if s.lag is None else f", lag {s.lag:,}"
    return (f"{ref}: {s.events:,} events ({s.events_per_second:,.0f}/s), {s.predictions:,} "
            f"predictions, {s.dead_letters:,} dead letters, {s.learnt:,} learnt{lag}")


def _row(r: Any) -> list[Any]:
    s = r.stats
    state = r.state if r.alive or r.state != "running" else "lost"
    drift = s.get("drift", {})
    drifts = drift.get("error_drifts", 0) + sum(drift.get("feature_drifts", {}).values())
    score = ", ".join(f"{k.removeprefix('online_')} {v:.3f}" for k, v in s.get("metrics", {}
                                                                                ).items())
    checkpoint = f"{r.checkpoint['labels']} labels" if r.checkpoint else "-"
    return [r.name, r.consumer, r.model, state, f"{time.time() - r.started:,.0f}s ago",
            s.get("events", 0),
            f"{s.get('events_per_second', 0):,.0f}", _opt(s.get("lag")), _opt(s.get("pending")),
            s.get("learnt", 0), score or "-", drifts, checkpoint,
            f"{time.time() - r.updated:,.0f}s ago"]


def _opt(value: Any) -> str:
    return "-" if value is None else str(value)


@stream_app.command("register")
def register_(
    name: Annotated[str, typer.Argument(help="The stream whose last checkpoint to register.")],
    consumer: Annotated[str | None, typer.Option(help="One consumer's checkpoint.")] = None,
    model: Annotated[str | None, typer.Option(
        help="Register under this model name [default: the model the stream ran]")] = None,
) -> None:
    """Register what a stream has learnt as a new model version (to serve, canary, export)."""
    from modelport.runtimes.stream.progress import register_checkpoint

    version = register_checkpoint(name, consumer, model)
    console.print(f"registered [bold]{version.ref}[/bold]")
