"""``modelport monitor``: served traffic of a model or endpoint against its baseline."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from modelport.interfaces.cli.render import JsonFlag, console, emit_json, number, table

STATUS_STYLE = {"ok": "green", "warn": "yellow", "drift": "red"}


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)


def _labels(target: str, since: float) -> dict[str, tuple[int, int]]:
    """Labels fed back to an endpoint in the window, per version: (labels, correct)."""
    from modelport.core.workspace import current
    from modelport.lifecycle.monitoring import endpoint_of
    from modelport.runtimes.serving.stats import read_stats

    if endpoint_of(target) is None:
        return {}
    return {version: (int(data["feedback"]), int(data["correct"]))
            for version, data in read_stats(target, since, current()).items()}


def _styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _pair(now: Any, base: Any) -> str:
    return f"{number(now)} / {number(base)}"


def _row(name: str, c: dict[str, Any]) -> list[Any]:
    return [name, c["kind"], _styled(c["status"]), c["psi"], c.get("wasserstein"),
            _pair(c["missing"], c["baseline_missing"]), c.get("out_of_range"),
            c.get("unseen"), _pair(c.get("mean"), c.get("baseline_mean"))
            if c["kind"] == "numeric" else "-"]


def _show(report: dict[str, Any]) -> None:
    from rich.markup import escape

    title = f"{report['model']}:{report['version']}"
    if "features" not in report:
        console.print(f"{escape(title)}: {report['status']}")
        return
    volume, base = report["volume"], report["baseline"]
    start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(report["window"]["start"]))
    rows = [_row(escape(n), c) for n, c in report["features"].items()]
    if report["prediction"] is not None:
        rows.append(_row("(prediction)", report["prediction"]))
    table(f"{escape(title)} — {_styled(report['status'])}: {volume['rows']:,} logged rows in "
          f"{volume['requests']:,} requests since {start} UTC; baseline {escape(base['source'])}"
          f" ({base['rows']:,} rows)",
          ["column", "kind", "status", "PSI", "Wasserstein σ", "missing now/base",
           "out of range", "unseen", "mean now/base"], rows)
    accuracy = report["accuracy"]
    if accuracy:
        console.print(f"accuracy on {accuracy['labels']:,} labels ({accuracy['source']}): "
                      f"{accuracy['accuracy']:.1%} (95 % CI {accuracy['low']:.1%}–"
                      f"{accuracy['high']:.1%})")
    for note in report["notes"]:
        console.print(f"note: {escape(note)}")


def monitor(
    target: Annotated[str, typer.Argument(
        help="A model (NAME, NAME:VERSION, NAME@ALIAS) or an endpoint (all its versions).")],
    since: Annotated[str, typer.Option(help="The window: the last 24h, 30m, 7d…")] = "24h",
    baseline: Annotated[str, typer.Option(
        help="'training' (the profile recorded at registration) or a period of logged "
             "traffic, e.g. 2026-11-01..2026-11-08 (UTC).")] = "training",
    html: Annotated[Path | None, typer.Option(
        help="Also write a self-contained HTML report to this file.")] = None,
    on_drift: Annotated[str, typer.Option(
        help="none, or retrain: re-run the champion's recipe on --data and, behind an "
             "endpoint, start a --rollout of a winning challenger (a bare model: promote "
             "it).")] = "none",
    data: Annotated[str | None, typer.Option(
        help="Recent labelled data for --on-drift retrain (CSV/Parquet path).")] = None,
    rollout: Annotated[str, typer.Option(help="canary or shadow, for --on-drift retrain.")
                       ] = "canary",
    margin: Annotated[float, typer.Option(
        help="The challenger must beat the champion by more than this.")] = 0.0,
    labels: Annotated[str | None, typer.Option(
        help="A stream of delayed labels ({\"id\": REQUEST_ID, \"label\": …}), e.g. "
             "redis://127.0.0.1:6379/labels: drained first (kept for the versions the "
             "target names; behind a server, on the server), joined to the logged "
             "predictions by request id for accuracy.")] = None,
    every: Annotated[str | None, typer.Option(
        help="With --on-drift retrain: check again at this interval (e.g. 1h), re-reading "
             "--data; each check is recorded as a job and a run. Ctrl-C stops.")] = None,
    times: Annotated[int | None, typer.Option(
        help="With --every: stop after this many checks.")] = None,
    record: Annotated[bool, typer.Option(
        "--record", help="Keep the check as a job (modelport jobs list) and the report as a "
                         "run of experiment 'monitor' (JSON and HTML artifacts), shown on "
                         "the dashboard's Monitoring page.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Drift, missing values, out-of-range values, volume and accuracy of logged traffic
    (modelport serve --log-sample) against the training data or an earlier period."""
    from modelport.errors import InvalidInputError
    from modelport.interfaces.cli.tune import parse_duration
    from modelport.lifecycle.monitoring import monitor as build_reports
    from modelport.lifecycle.report_html import render

    since_s = parse_duration(since, "--since")
    if on_drift not in ("none", "retrain"):
        raise InvalidInputError("--on-drift must be none or retrain")
    if (every is not None or times is not None) and on_drift != "retrain":
        raise InvalidInputError("--every and --times schedule --on-drift retrain: give it too")
    if times is not None and every is None:
        raise InvalidInputError("--times counts the checks of --every: give an interval too")
    if on_drift == "retrain":
        if data is None:
            raise InvalidInputError("--on-drift retrain needs --data: recent labelled rows")
        interval = parse_duration(every, "--every") if every is not None else 1.0
        _loop(target, data, since_s, baseline, rollout, margin, as_json, interval,
              1 if every is None else times)
        return
    if labels is not None:
        from modelport.lifecycle.monitoring import versions_of
        from modelport.runtimes.label_stream import drain

        drained = drain(labels, [(ref.name, ref.version) for ref in versions_of(target)
                                 if ref.version is not None])
        if not as_json:
            console.print(f"read {drained.labels:,} labels from {labels}"
                          + (f" ({drained.malformed:,} malformed messages skipped)"
                             if drained.malformed else "")
                          + (f"; {drained.unsent:,} label file(s) wait here for the server "
                             "(sent by the next --labels run)" if drained.unsent else ""))
    fed_back = _labels(target, time.time() - since_s)
    recorded = None
    if record:
        from modelport.control.monitor_loop import record as record_check

        reports, recorded = record_check(target, since_s=since_s, baseline=baseline,
                                         labels=fed_back)
    else:
        reports = build_reports(target, since_s, baseline, fed_back)
    if html is not None:
        try:
            html.write_text(render(reports), encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot write {html}: {exc.strerror}") from None
    if as_json:
        emit_json(reports)
        return
    for report in reports:
        _show(report)
    if html is not None:
        console.print(f"wrote {html}")
    if recorded is not None:
        console.print(f"recorded as job {recorded.job_id} and run {recorded.run_id} "
                      "(experiment monitor)")


def _loop(target: str, data: str, since_s: float, baseline: str, rollout: str, margin: float,
          as_json: bool, interval: float, times: int | None) -> None:
    from modelport.control.monitor_loop import LoopDecision, check_every

    def show(decision: LoopDecision) -> None:
        if as_json:
            emit_json(decision.to_dict())
        elif not decision.drifted:
            console.print(f"{target}: no drift — nothing to do (job {decision.job_id}, run "
                          f"{decision.run_id})")
        else:
            console.print(f"{target}: drift in {', '.join(decision.drifted)}")
            console.print(f"retrained: {decision.challenger} scored "
                          f"{number(decision.challenger_score)} against the champion's "
                          f"{number(decision.champion_score)} ({decision.metric}) — "
                          f"{decision.action}"
                          + (f" (rollout {decision.rollout_id})" if decision.rollout_id
                             else "") + f" (job {decision.job_id}, run {decision.run_id})")
        if times != 1 and not as_json:
            console.print(f"next check in {interval:g} s")

    check_every(target, data, interval, times=times, on_decision=show, since_s=since_s,
                baseline=baseline, rollout=rollout, margin=margin)
