"""Monitoring reports kept as runs of experiment ``monitor``, so they can be looked back on.

A report lives as long as its prediction logs do; recorded, it stays with its
numbers: the reports as ``monitor/report.json`` (what the dashboard's monitoring
page reads), the same as a self-contained ``monitor/report.html``, and one
metric per version — how many columns drifted — so ``metrics.drifted_columns > 0``
finds the checks that found something. ``modelport monitor --record`` records a
report; every turn of the retraining loop does — both through ``control/monitor_loop``,
which also keeps each check as a job with its decision.

>>> run_id = record("iris@champion", monitor("iris@champion"))    # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from modelport.core.workspace import Workspace
from modelport.lifecycle.drift import DRIFT
from modelport.lifecycle.tracking import Run, start_run

EXPERIMENT = "monitor"
REPORT_JSON = "monitor/report.json"
REPORT_HTML = "monitor/report.html"


def drifted_columns(reports: Sequence[dict[str, Any]]) -> list[str]:
    """``NAME:VERSION column`` of every drifted column (``(prediction)`` for the outputs)."""
    out = []
    for r in reports:
        columns = dict(r.get("features", {}))
        if r.get("prediction") is not None:
            columns["(prediction)"] = r["prediction"]
        out += [f"{r['model']}:{r['version']} {n}" for n, c in columns.items()
                if c["status"] == DRIFT]
    return out


def tags(target: str, reports: Sequence[dict[str, Any]], action: str) -> dict[str, str]:
    """What a monitoring run is about, searchable: ``tags.target = 'credit-api'``."""
    return {"kind": EXPERIMENT, "target": target, "action": action,
            "drifted": json.dumps(drifted_columns(reports))[:8000]}


def log_reports(run: Run, reports: Sequence[dict[str, Any]]) -> None:
    """The reports as JSON and HTML artifacts of ``run``, and their drifted-column count."""
    from modelport.lifecycle.report_html import render

    run.log_artifact(json.dumps(list(reports), default=_plain).encode(), REPORT_JSON)
    run.log_artifact(render(list(reports)).encode(), REPORT_HTML)
    run.log_metrics({"drifted_columns": float(len(drifted_columns(reports)))}, step=0)


def record(target: str, reports: Sequence[dict[str, Any]], ws: Workspace | None = None) -> str:
    """One run holding ``reports`` of ``target`` (no decision taken); its id."""
    with start_run(name=f"monitor-{target}", experiment=EXPERIMENT,
                   tags=tags(target, reports, "report"), ws=ws) as run:
        log_reports(run, reports)
    return run.id


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)
