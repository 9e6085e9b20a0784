"""The UI benchmark's JSON summary and markdown table (ratios: MLflow's time / modelport's)."""

from __future__ import annotations

import platform
import statistics
from typing import Any

LABELS = {
    "first_page": "runs table, first page",
    "sort": "sorted by a metric (order in the URL)",
    "sort_click": "sorted by a metric (click on the column, page open)",
    "compare": "compare 10 runs, 1,000-step histories",
}


def build(results: dict[str, dict[str, Any]], args: dict[str, Any], before: dict[str, Any],
          after: dict[str, Any], started: float) -> dict[str, Any]:
    rows = []
    for query, label in LABELS.items():
        got = results.get(query, {})
        mp, ml = got.get("modelport", {}), got.get("MLflow", {})
        ratio = ml["best_s"] / mp["best_s"] if "best_s" in mp and "best_s" in ml else None
        rows.append({"query": query, "label": label, "modelport_s": mp.get("best_s"),
                     "mlflow_s": ml.get("best_s"), "mlflow_over_modelport": ratio,
                     "modelport_median_s": _median(mp), "mlflow_median_s": _median(ml),
                     "errors": {k: v["error"] for k, v in got.items() if "error" in v}})
    return {"benchmark": "ui", "args": {k: str(v) for k, v in args.items()}, "rows": rows,
            "results": results, "machine": platform.platform(), "started": started,
            "environment_before": before, "environment_after": after}


def _median(timing: dict[str, Any]) -> float | None:
    return statistics.median(timing["times_s"]) if timing.get("times_s") else None


def _s(value: float | None) -> str:
    return "—" if value is None else (f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s")


def markdown(summary: dict[str, Any]) -> str:
    lines = [f"# UI benchmark ({summary['args']['runs']} runs, best of "
             f"{summary['args']['repeats']}, same headless chromium)", "",
             "Best time (median in brackets), from navigation until the answer is on screen.", "",
             "| view | modelport | MLflow 3 | MLflow ÷ modelport (best) |",
             "| --- | ---: | ---: | ---: |"]
    for row in summary["rows"]:
        ratio = row["mlflow_over_modelport"]
        mp = f"{_s(row['modelport_s'])} ({_s(row['modelport_median_s'])})"
        ml = f"{_s(row['mlflow_s'])} ({_s(row['mlflow_median_s'])})" if row["mlflow_s"] else "—"
        lines.append(f"| {row['label']} | {mp} | {ml} | "
                     f"{'—' if ratio is None else f'{ratio:.1f}×'} |")
    errors = [f"- {row['label']}, {who}: {error}" for row in summary["rows"]
              for who, error in row["errors"].items()]
    load = (summary["environment_before"].get("load_average"),
            summary["environment_after"].get("load_average"))
    lines += ["", f"Load average before / after: {load[0]} / {load[1]} "
              f"(commit {summary['environment_before'].get('git_commit')})."]
    if errors:
        lines += ["", "Not measured:", *errors]
    return "\n".join(lines) + "\n"
