"""Batch benchmark: modelport batch jobs and forecasts against the peers, in one run.

Why it exists: the batch target in FIELD.md — one worker at ≥ 70 % of a raw
in-memory ``model.predict`` on the same array, peak memory ≤ 1 GiB whatever the
input size — and the forecast claim, checked side by side on this machine:

* scoring N rows × 20 features, Parquet → Parquet, LogisticRegression and
  RandomForest (100 trees, depth 10): raw ``model.predict`` on the whole array
  in memory (the ceiling, reading excluded), a hand-written pyarrow streaming
  loop (the I/O floor), modelport with 1 worker and with every core, and
  MLflow's pyfunc over a pandas frame (how MLflow users score a file without
  Spark). Every system's predictions are checked equal to the ceiling's first.
* forecasting 1,000 generated monthly series: modelport (statsforecast, model
  chosen per series by cross-validation, then forecast with intervals) against
  the per-series Python loop a user would write with the same models; both
  must choose the same model for every series.

Each case runs in its own process; peak memory is the sum of the proportional
set sizes (PSS) of that process and its children, sampled every 100 ms, and
the CPU seconds the process tree used (whole process, start-up included).

    python benchmarks/batch/bench.py [--rows 5000000] [--series 1000] [--quick]

It builds its own virtualenv (``benchmarks/batch/.venv``) with MLflow and
modelport (editable, with the forecast extra) on first use and re-runs itself
there.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = HERE / ".venv"
REQUIREMENTS = ["mlflow==3.*"]
FEATURES = [f"f{i}" for i in range(20)]
BATCH = 65_536
ROW_GROUP = 262_144
SCORING = ("ceiling", "streaming_loop", "modelport_1", "modelport_all", "mlflow_pyfunc")
FORECAST = ("modelport_forecast", "per_series_loop")
FORECAST_MODELS = ("AutoETS", "Theta", "SeasonalNaive")
SEASON, HORIZON, WINDOWS, LENGTH = 12, 6, 1, 48


# ---------------------------------------------------------------- venv

def _bootstrap() -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        print("creating benchmarks/batch/.venv …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import mlflow, statsforecast, modelport; "
                            "print(modelport.__file__)"], capture_output=True, text=True)
    where = Path(probe.stdout.strip() or "/").resolve()
    if probe.returncode != 0 or not where.is_relative_to(REPO):
        print("installing MLflow and modelport[forecast] (editable) …", file=sys.stderr,
              flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS, "-e",
                        f"{REPO}[forecast]"], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# ---------------------------------------------------------------- data and models

def prepare(work: Path, rows: int) -> dict[str, Any]:
    """The input file, the two models registered in modelport and saved by MLflow."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = work / f"input-{rows}.parquet"
    if not data.exists():
        rng = np.random.default_rng(7)
        schema = pa.schema([(f, pa.float64()) for f in FEATURES])
        tmp = data.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, schema) as writer:
            for start in range(0, rows, ROW_GROUP):
                n = min(ROW_GROUP, rows - start)
                block = rng.normal(size=(n, len(FEATURES)))
                writer.write_table(pa.table({f: block[:, j] for j, f in enumerate(FEATURES)}),
                                   row_group_size=ROW_GROUP)
        tmp.rename(data)
    home = work / "home"
    if not (work / "models.json").exists():
        import mlflow.sklearn
        import pandas as pd
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression

        from modelport.config import Settings
        from modelport.core.workspace import Workspace
        from modelport.lifecycle.registry import register_model

        rng = np.random.default_rng(1)
        x = pd.DataFrame(rng.normal(size=(50_000, len(FEATURES))), columns=FEATURES)
        y = ((x.f0 + x.f1 * x.f2 - x.f3) > 0).astype(int)
        ws = Workspace.open(Settings(home=home))
        for name, est in (("lr", LogisticRegression(max_iter=500)),
                          ("rf", RandomForestClassifier(100, max_depth=10, random_state=0))):
            est.fit(x.to_numpy(), y)
            register_model(name, est, X=x, ws=ws)
            # cloudpickle: MLflow's default skops save refuses a RandomForest (FIELD.md)
            mlflow.sklearn.save_model(est, str(work / f"mlflow-{name}"),
                                      serialization_format="cloudpickle")
        (work / "models.json").write_text(json.dumps({"home": str(home)}))
    return {"data": str(data), "home": str(home)}


# ---------------------------------------------------------------- cases (child processes)

def _estimator(home: str, name: str) -> Any:
    from modelport.config import Settings
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.loading import load

    return load(name, ws=Workspace.open(Settings(home=home))).model  # type: ignore[attr-defined]


def run_scoring(case: str, model: str, data: str, home: str, out: Path) -> dict[str, Any]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if case == "ceiling":
        table = pq.read_table(data)
        x = np.column_stack([table.column(f).to_numpy() for f in FEATURES])
        del table
        est = _estimator(home, model)
        start = time.perf_counter()
        pred = est.predict(x)
        seconds = time.perf_counter() - start
        np.save(out.with_suffix(".npy"), pred)
        return {"seconds": seconds, "rows": len(pred)}
    if case == "streaming_loop":
        start = time.perf_counter()
        est = _estimator(home, model)
        reader = pq.ParquetFile(data)
        with pq.ParquetWriter(out.with_suffix(".parquet"),
                              pa.schema([("prediction", pa.int64())])) as writer:
            for batch in reader.iter_batches(BATCH, columns=FEATURES):
                x = np.column_stack([batch.column(f).to_numpy() for f in FEATURES])
                writer.write_table(pa.table({"prediction": est.predict(x)}))
        return {"seconds": time.perf_counter() - start, "rows": reader.metadata.num_rows}
    if case in ("modelport_1", "modelport_all"):
        from modelport.config import Settings
        from modelport.core.workspace import Workspace
        from modelport.runtimes.batch import predict_job

        ws = Workspace.open(Settings(home=home))
        start = time.perf_counter()
        report = predict_job(model, data, str(out), proba=False, batch_size=BATCH,
                             workers=1 if case == "modelport_1" else None, overwrite=True, ws=ws)
        return {"seconds": time.perf_counter() - start, "rows": report.rows,
                "parts": report.parts}
    if case == "mlflow_pyfunc":
        import mlflow.pyfunc
        import pandas as pd

        start = time.perf_counter()
        pyfunc = mlflow.pyfunc.load_model(str(Path(home).parent / f"mlflow-{model}"))
        frame = pd.read_parquet(data)
        pred = np.asarray(pyfunc.predict(frame))
        pd.DataFrame({"prediction": pred}).to_parquet(out.with_suffix(".parquet"))
        return {"seconds": time.perf_counter() - start, "rows": len(pred)}
    raise SystemExit(f"unknown case {case}")


def series_frame(count: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(11)
    t = np.arange(LENGTH)
    frames = []
    for k in range(count):
        level, slope = rng.uniform(50, 500), rng.normal(0, 1)
        amp, noise = rng.uniform(0, 0.3) * level, rng.uniform(0.01, 0.1) * level
        y = level + slope * t + amp * np.sin(2 * np.pi * (t + k) / SEASON) \
            + rng.normal(0, noise, LENGTH)
        frames.append(pd.DataFrame({"unique_id": f"s{k:04d}", "ds": pd.date_range(
            "2020-01-01", periods=LENGTH, freq="MS"), "y": y}))
    return pd.concat(frames, ignore_index=True)


def run_forecast(case: str, count: int, home: str, out: Path) -> dict[str, Any]:
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    frame = series_frame(count)
    if case == "modelport_forecast":
        from modelport.config import Settings
        from modelport.core.workspace import Workspace
        from modelport.runtimes.forecast import forecast, train_forecast
        from modelport.runtimes.forecast.predict import load_forecaster

        ws = Workspace.open(Settings(home=home))
        start = time.perf_counter()
        trained = train_forecast(frame, name=f"series{count}", horizon=HORIZON, id_col="unique_id",
                                 models=FORECAST_MODELS, cv_windows=WINDOWS, ws=ws)
        result = forecast(trained.version.ref, ws=ws)
        seconds = time.perf_counter() - start
        _, model = load_forecaster(trained.version.ref, ws=ws)
        chosen = {uid: s.model for uid, s in model.series.items()}
        forecasts = result.forecast.to_numpy()
    else:
        from statsforecast import models as sf

        makers = {"AutoETS": lambda: sf.AutoETS(season_length=SEASON),
                  "Theta": lambda: sf.Theta(season_length=SEASON),
                  "SeasonalNaive": lambda: sf.SeasonalNaive(season_length=SEASON)}
        start = time.perf_counter()
        chosen, parts = {}, []
        for uid, group in frame.groupby("unique_id", sort=True):
            y = group.y.to_numpy()
            scores = {}
            for name in FORECAST_MODELS:
                errors = []
                for w in range(WINDOWS):
                    cut = len(y) - HORIZON * (WINDOWS - w)
                    mean = makers[name]().forecast(y=y[:cut], h=HORIZON)["mean"]
                    errors.append(np.abs(mean - y[cut:cut + HORIZON]))
                scores[name] = float(np.mean(errors))
            best = min(FORECAST_MODELS, key=lambda n: (scores[n], FORECAST_MODELS.index(n)))
            chosen[str(uid)] = best
            parts.append(makers[best]().forecast(y=y, h=HORIZON, level=[80, 95])["mean"])
        seconds = time.perf_counter() - start
        forecasts = np.concatenate(parts)
    np.save(out.with_suffix(".npy"), forecasts)
    out.with_suffix(".json").write_text(json.dumps(chosen))
    return {"seconds": seconds, "rows": count}


# ---------------------------------------------------------------- measuring

def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _tree_rss(pids: list[int]) -> int:
    """Memory of a process tree: the sum of the proportional set sizes (PSS), so pages
    that forked workers share with their parent count once, not twice."""
    total = 0
    for p in pids:
        for source, key in ((f"/proc/{p}/smaps_rollup", "Pss:"), (f"/proc/{p}/status", "VmRSS:")):
            try:
                with open(source) as fh:
                    found = [int(line.split()[1]) for line in fh if line.startswith(key)]
            except OSError:
                continue
            if found:
                total += found[0] * 1024
                break
    return total


def measure(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one case; its result plus peak memory and the CPU seconds its process tree used
    (CPU time is what a busy machine disturbs least)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]

    def sample() -> None:  # light on purpose: the sampler shares the machine with the case
        pids, tick = [proc.pid], 0
        while proc.poll() is None:
            if tick % 5 == 0:
                pids = _descendants(proc.pid)
            peak[0] = max(peak[0], _tree_rss(pids))
            tick += 1
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = proc.communicate()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"case {args} failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(peak[0] / 2**20, 1)  # PSS of the process tree, MiB
    result["cpu_seconds"] = round((after.ru_utime + after.ru_stime)
                                  - (before.ru_utime + before.ru_stime), 2)
    return result


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           # set on this machine for old OpenBLAS builds; they slow a current numpy (both go)
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    return {**env, "MODELPORT_HOME": "", "PYTHONWARNINGS": "ignore"}


def _single_thread(env: dict[str, str]) -> dict[str, str]:
    return {**env, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _outputs_agree(case: str, out: Path, reference: Any) -> bool:
    import numpy as np
    import pandas as pd

    if out.with_suffix(".npy").exists():
        got = np.load(out.with_suffix(".npy"))
    elif out.is_dir():
        parts = sorted(out.glob("part-*.parquet"))
        got = pd.concat([pd.read_parquet(p) for p in parts]).prediction.to_numpy()
    else:
        got = pd.read_parquet(out.with_suffix(".parquet")).prediction.to_numpy()
    return bool(np.array_equal(got, reference))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="small sizes, results to work/")
    parser.add_argument("--skip-forecast", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="render results/batch.json again (markdown, README section)")
    parser.add_argument("--case"), parser.add_argument("--model")
    parser.add_argument("--data"), parser.add_argument("--home"), parser.add_argument("--out")
    args = parser.parse_args()
    if args.report_only:
        import report

        report.rewrite()
        return
    if args.case:  # a child: run one case, print one JSON line
        out = Path(args.out)
        if args.case in FORECAST:
            result = run_forecast(args.case, args.series, args.home, out)
        else:
            result = run_scoring(args.case, args.model, args.data, args.home, out)
        print(json.dumps(result))
        return

    import numpy as np
    import report

    rows, count = (200_000, 40) if args.quick else (args.rows, args.series)
    work = HERE / "work"
    work.mkdir(exist_ok=True)
    print(f"preparing {rows:,} rows × {len(FEATURES)} features …", file=sys.stderr, flush=True)
    prepared = prepare(work, rows)
    env = _child_env()
    results: dict[str, Any] = {"scoring": {}, "forecast": {}}
    for model in ("lr", "rf"):
        reference = None
        for case in SCORING:
            out = work / f"out-{case}-{model}"
            case_env = env if case == "modelport_all" else _single_thread(env)
            print(f"{model}: {case} …", file=sys.stderr, flush=True)
            r = measure(["--case", case, "--model", model, "--data", prepared["data"],
                         "--home", prepared["home"], "--out", str(out)], case_env)
            if case == "ceiling":
                reference = np.load(out.with_suffix(".npy"))
            r["agrees"] = _outputs_agree(case, out, reference)
            r["rows_per_s"] = r["rows"] / r["seconds"]
            results["scoring"].setdefault(model, {})[case] = r
            print(f"  {r['rows_per_s']:,.0f} rows/s, peak {r['peak_rss_mb']:,.0f} MB, "
                  f"agrees={r['agrees']}", file=sys.stderr, flush=True)
    if not args.skip_forecast:
        chosen: dict[str, Any] = {}
        for case in FORECAST:
            out = work / f"out-{case}-{count}"
            print(f"forecast: {case} on {count} series …", file=sys.stderr, flush=True)
            home = str(work / f"forecast-home-{time.time_ns()}")
            r = measure(["--case", case, "--series", str(count), "--home", home,
                         "--out", str(out)], env if case == "modelport_forecast"
                        else _single_thread(env))
            chosen[case] = (json.loads(out.with_suffix(".json").read_text()),
                            np.load(out.with_suffix(".npy")))
            results["forecast"][case] = r
            print(f"  {r['seconds']:.1f} s, peak {r['peak_rss_mb']:,.0f} MB", file=sys.stderr,
                  flush=True)
        (mine, ours), (theirs, loop) = chosen["modelport_forecast"], chosen["per_series_loop"]
        results["forecast"]["same_choice"] = sum(mine[k] == theirs[k] for k in theirs) / len(theirs)
        results["forecast"]["max_abs_diff"] = float(np.max(np.abs(ours - loop)))
    report.write(results, rows=rows, series=count, quick=args.quick, features=len(FEATURES),
                 batch=BATCH, models=FORECAST_MODELS, horizon=HORIZON, windows=WINDOWS,
                 length=LENGTH)


if __name__ == "__main__":
    if not sys.prefix.startswith(str(VENV)) and "--case" not in sys.argv:
        _bootstrap()
    main()
