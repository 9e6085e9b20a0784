"""Evidently's side of the monitoring benchmark (run with Evidently's own venv).

    python run_evidently.py report REFERENCE.parquet LOGS_DIR OUT.html
    python run_evidently.py alarms --sizes 500,1000 --reps 30 --reference-rows 5000

``report``: the DataDriftPreset over every logged row modelport's writer put under
LOGS_DIR (its ``in.<feature>`` columns, read with pyarrow as modelport reads them)
against the training rows, then its HTML; prints the seconds of each step as JSON.
``alarms``: the preset on windows drawn by ``data.py`` (undrifted, and every feature
shifted by 0.2 SD); prints each feature's score and drift verdict per window.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import data

warnings.filterwarnings("ignore")


def drift_of(snapshot: Any) -> dict[str, dict[str, Any]]:
    """Per column: Evidently's score, its method and threshold, and whether it drifted
    (a p-value under the threshold, or a distance at or over it)."""
    out = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        p_value = "p_value" in method.lower().replace("-", "_")
        drifted = value < threshold if p_value else value >= threshold
        out[config["column"]] = {"score": value, "method": method, "threshold": threshold,
                                 "drift": bool(drifted)}
    return out


def run(reference: pd.DataFrame, current: pd.DataFrame) -> Any:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    return Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)


def report(reference_path: str, logs: str, html: str) -> dict[str, Any]:
    import evidently.presets  # noqa: F401  (imported before the clock starts)
    import pyarrow.parquet as pq

    started = time.perf_counter()
    reference = pq.read_table(reference_path).to_pandas()
    parts = sorted(Path(logs).rglob("part-*.parquet"))
    current = pd.concat([pq.read_table(p, columns=[f"in.{f}" for f in data.FEATURES])
                         .to_pandas() for p in parts], ignore_index=True)
    current.columns = [c.removeprefix("in.") for c in current.columns]
    read = time.perf_counter()
    snapshot = run(reference, current)
    computed = time.perf_counter()
    snapshot.save_html(html)
    done = time.perf_counter()
    drift = drift_of(snapshot)
    return {"rows": len(current), "reference_rows": len(reference),
            "read_s": read - started, "compute_s": computed - read, "html_s": done - computed,
            "total_s": done - started, "drifted": sorted(c for c, d in drift.items() if d["drift"]),
            "methods": sorted({d["method"] for d in drift.values()})}


def alarms(sizes: list[int], reps: int, reference_rows: int) -> dict[str, Any]:
    reference = pd.DataFrame(data.draw(reference_rows, seed=1), columns=data.FEATURES)
    out: dict[str, Any] = {}
    for n in sizes:
        for shifted in (False, True):
            windows = []
            for rep in range(reps):
                seed = data.window_seed(n, rep, shifted)
                current = pd.DataFrame(data.draw(n, seed, 0.2 if shifted else 0.0),
                                       columns=data.FEATURES)
                windows.append(drift_of(run(reference, current)))
            out[f"{n}/{'shifted' if shifted else 'undrifted'}"] = windows
        print(f"evidently alarms n={n} done", file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("report")
    one.add_argument("reference")
    one.add_argument("logs")
    one.add_argument("html")
    grid = sub.add_parser("alarms")
    grid.add_argument("--sizes", required=True)
    grid.add_argument("--reps", type=int, required=True)
    grid.add_argument("--reference-rows", type=int, required=True)
    args = parser.parse_args()
    if args.mode == "report":
        result = report(args.reference, args.logs, args.html)
    else:
        result = alarms([int(s) for s in args.sizes.split(",")], args.reps, args.reference_rows)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
