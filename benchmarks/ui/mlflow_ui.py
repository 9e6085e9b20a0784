"""Driving MLflow 3's UI for the UI benchmark: the same three views as ``modelport_ui``.

The views are opened by URL, as MLflow's own links make them: the experiment's
runs tab (sorted with ``orderByKey``/``orderByAsc``), and the metric page that
plots one metric's history for several runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

TIMEOUT_MS = 300_000
FIRST_ROW = ("arg => [...document.querySelectorAll('.ag-row[row-index=\"0\"]')]"
             ".some(r => r.textContent.includes(arg))")
TRACES = "arg => document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length >= arg"


class MlflowUi:
    def __init__(self, page: Any, url: str, experiment: str, newest: str, best: str,
                 compare_ids: list[str], shots: Path | None) -> None:
        self.page, self.url, self.experiment = page, url, experiment
        self.newest, self.best, self.compare_ids, self.shots = newest, best, compare_ids, shots

    def _open(self, fragment: str, done: str, arg: Any, shot: str) -> float:
        self.page.goto("about:blank")
        start = time.perf_counter()
        self.page.goto(f"{self.url}/{fragment}")
        try:
            self.page.wait_for_function(done, arg=arg, timeout=TIMEOUT_MS, polling="raf")
        finally:
            if self.shots:
                self.shots.mkdir(parents=True, exist_ok=True)
                self.page.screenshot(path=self.shots / f"mlflow-{shot}.png")
        return time.perf_counter() - start

    def first_page(self) -> float:
        return self._open(f"#/experiments/{self.experiment}/runs", FIRST_ROW, self.newest, "runs")

    def sort(self) -> float:
        order = quote("metrics.`accuracy`")
        return self._open(f"#/experiments/{self.experiment}/runs?orderByKey={order}"
                          "&orderByAsc=false", FIRST_ROW, self.best, "sorted")

    def compare(self) -> float:
        query = {"runs": json.dumps(self.compare_ids), "metric": quote(json.dumps("loss")),
                 "experiments": json.dumps([self.experiment]),
                 "plot_metric_keys": quote(json.dumps(["loss"])), "plot_layout": "{}",
                 "x_axis": "step", "y_axis_scale": "linear", "line_smoothness": "1",
                 "show_point": "false", "deselected_curves": "[]",
                 "last_linear_y_axis_range": "[]"}
        text = "&".join(f"{k}={v}" for k, v in query.items())
        return self._open(f"#/metric?{text}", TRACES, len(self.compare_ids), "compare")
