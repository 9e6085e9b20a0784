"""Monitoring benchmark: what logging costs a server, and modelport's reports beside Evidently's.

    python benchmarks/monitoring/bench.py [--rounds 3] [--duration 12] [--rows 1000000]
                                          [--sizes 300,500,1000,2000,5000,20000] [--reps 15]
                                          [--only serving,report,alarms]

Writes ``benchmarks/results/monitoring.{json,md}``. Three questions, one run:

**Serving with logging.** ``modelport serve lr`` (the serving benchmark's
LogisticRegression on 20 features, registered by ``serving/prepare_models.py``) with
and without ``--log-sample 0.1``, taking turns round by round on the same core with
the same requests (single-row JSON, OIP v2 and ``/invocations``, 32 connections) —
``serving/ab.py``'s pieces. Each server first takes 12 s of light traffic (both sides),
so the log's one-off start-up work (loading pyarrow and pandas, the first flush, the
first profile lookup: ~0.3 s of CPU) is behind it; each measured run lasts longer than
the log's 10 s flush period, so the Parquet writes are inside what is measured.
Reported: requests/s (the median of the rounds), the ratio logging ÷ not (target
≥ 0.95) — of the medians, and the median of each round's own pair (its two sides run
back to back, so a machine whose load drifts moves both alike) — and the server's CPU µs
per request (its processes' utime + stime over the
requests wrk counted: the number that moves least when other work competes for the
cores). The logged rows are counted afterwards: about a tenth of the requests, or the
row says otherwise.

**A report over 1,000,000 logged rows × 20 features.** A LogisticRegression is
registered on 50,000 training rows (``data.py``: normal, lognormal, uniform and
Poisson columns), which records its profile; 1,000,000 undrifted rows and its
predictions are written by modelport's own log writer, as a server would. modelport:
``monitor()`` (reads the Parquet files, bins against the profile, judges) and the
HTML report; Evidently (its own venv, ``run_evidently.py``): the same files read
with pyarrow into pandas, ``Report([DataDriftPreset()])`` against the 50,000
training rows, then its HTML. Seconds after the imports, and each CLI's whole process
(``modelport monitor --html`` / the Evidently script) for the wall clock a user waits.
Target: modelport ≥ 5× faster.

**False alarms at equal detection power.** Windows of n rows (``--sizes``),
``--reps`` of each, drawn from the training distribution (undrifted) and with every
one of the 20 features' means moved by 0.2 standard deviations (shifted); the
baseline is 5,000 training rows for both tools (Evidently gets the rows, modelport
their profile). Every (window, feature) pair is one trial: the *false-alarm rate* is
the share of undrifted trials flagged as drift (modelport's ``drift`` status; Evidently's
per-column verdict), the *power* the share of shifted trials flagged. Defaults are
compared first, per n. Powers differ at small n (modelport deducts sampling noise
before it judges an effect, so it needs more rows to call a 0.2-SD shift), so the
equal-power comparison sets Evidently's threshold on its own score to the value at
which its power equals modelport's at that n (the matching quantile of its shifted
scores) and reports Evidently's false-alarm rate at that threshold: the claim holds
when modelport's false-alarm rate is no higher, at every n, than Evidently's at the
same power. Windows are drawn from seeds (``data.window_seed``), so both tools see
identical numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "benchmarks" / "serving"))

import ab  # noqa: E402
from procs import Fleet  # noqa: E402

import data  # noqa: E402

WORK = HERE / "work"
RESULTS = REPO / "benchmarks" / "results"
EVIDENTLY = Path(os.environ.get("EVIDENTLY_VENV", "/tmp/bench-evidently"))
EVIDENTLY_REQUIREMENTS = ["evidently==0.7.23", "pandas<3", "pyarrow"]
CASES = (("v2", 32), ("invocations", 32))
TRAINING_ROWS = 50_000
REFERENCE_ROWS = 5_000
SHIFT_SD = 0.2
SETTLE_S = 12.0  # longer than the log's 10 s flush period


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def evidently_python() -> Path:
    """Evidently's interpreter, its venv made on first use (never modelport's)."""
    python = EVIDENTLY / "bin" / "python"
    if not python.exists():
        log(f"creating {EVIDENTLY} with {' '.join(EVIDENTLY_REQUIREMENTS)}")
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY)], check=True)
    probe = subprocess.run([str(python), "-c", "import evidently; print(evidently.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        *EVIDENTLY_REQUIREMENTS], check=True)
    return python


def evidently(*args: str) -> dict[str, Any]:
    out = subprocess.run([str(evidently_python()), str(HERE / "run_evidently.py"), *args],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout))


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO / 'edge' / 'src'}"}


# ---------------------------------------------------------------- serving with logging

def logged_rows(home: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows
               for p in (home / "artifacts" / "predictions").rglob("part-*.parquet"))


def serving(rounds: int, duration: float) -> dict[str, Any]:
    root = WORK / "serving"
    root.mkdir(parents=True, exist_ok=True)
    log("registering the serving benchmark's models")
    work, meta = ab.prepare(sys.executable, REPO, "side", root)
    body = ab.bodies(meta["row"], root)
    specs = {"off": ab.spec(sys.executable, REPO, work, "off", body),
             "on": ab.spec(sys.executable, REPO, work, "on", body, ("--log-sample", "0.1"))}
    before = logged_rows(work / "home")
    rps: dict[str, dict[str, list[float]]] = {s: {f"{k} c={c}": [] for k, c in CASES}
                                              for s in specs}
    cpu: dict[str, dict[str, list[float]]] = {s: {f"{k} c={c}": [] for k, c in CASES}
                                              for s in specs}
    served_on = 0
    fleet = Fleet(root / "logs")
    try:
        for round_ in range(rounds):
            for side in (("off", "on") if round_ % 2 == 0 else ("on", "off")):
                running = fleet.start(specs[side], f"{side}-{round_}")
                running.wait_ready(None)
                # past the log's start-up (its imports, first flush, first profile lookup):
                # what a long-running server pays per request is measured, on both sides alike
                first = specs[side].endpoints[0]
                ab.loadgen.run(running.url(first), first.body, 8, SETTLE_S)
                for key, c in CASES:
                    endpoint = next(e for e in specs[side].endpoints if e.key == key)
                    ab.loadgen.run(running.url(endpoint), endpoint.body, 8, 1.0)  # warm-up
                    speed, used = ab.measure(running, endpoint, c, duration)
                    rps[side][f"{key} c={c}"].append(speed)
                    cpu[side][f"{key} c={c}"].append(used)
                    served_on += round(speed * duration) if side == "on" else 0
                    log(f"round {round_ + 1} logging {side:<3} {key:<11} c={c} "
                        f"{speed:>8,.0f} rps {used:6.1f} us CPU/request")
                fleet.stop(running)
        logged = logged_rows(work / "home") - before  # each server flushed as it stopped
        shared = shared_core(specs, fleet, rounds, duration)
    finally:
        fleet.stop_all()
    cases = {}
    for case in rps["off"]:
        off, on = (statistics.median(rps[s][case]) for s in ("off", "on"))
        off_cpu, on_cpu = (statistics.median(cpu[s][case]) for s in ("off", "on"))
        cases[case] = {"rps_off": off, "rps_on": on, "ratio": on / off,
                       "cpu_us_off": off_cpu, "cpu_us_on": on_cpu,
                       "rounds_rps": rps["off"][case] + rps["on"][case]}
    return {"cases": cases, "rounds": rounds, "duration_s": duration, "sample": 0.1,
            "logged_rows": logged, "measured_requests_logging": served_on,
            "logged_share": logged / max(served_on, 1), "shared_core": shared}


def together(pairs: list[tuple[Any, Any]], connections: int, seconds: float) -> list[Any]:
    """One wrk per (server, endpoint), all running at once."""
    procs = [ab.loadgen.start(running.url(endpoint), endpoint.body, connections, seconds)
             for running, endpoint in pairs]
    return [ab.loadgen.finish(proc, seconds) for proc in procs]


def shared_core(specs: dict[str, Any], fleet: Fleet, rounds: int, duration: float
                ) -> dict[str, Any]:
    """Both servers on the one server core at once, each loaded by its own wrk.

    The scheduler gives two busy servers on one core equal turns, so the ratio of their
    requests/s is the inverse ratio of their CPU cost per request — and whatever else runs
    on the machine falls on both alike, within milliseconds, instead of on one round and
    not the next. Round 0 pairs two servers without logging: how far apart two identical
    sides land (the method's resolution). The side started first alternates."""
    pairs: dict[str, list[float]] = {f"{k} c={c}": [] for k, c in CASES}
    same: list[float] = []
    for round_ in range(rounds + 1):
        if round_ == 0:
            started = {f"off{i}": fleet.start(specs["off"], f"shared-0-{i}") for i in (1, 2)}
        else:
            order = ("off", "on") if round_ % 2 else ("on", "off")
            started = {side: fleet.start(specs[side], f"shared-{round_}-{side}")
                       for side in order}
        for running in started.values():
            running.wait_ready(None)
        together([(r, r.spec.endpoints[0]) for r in started.values()], 8, SETTLE_S)
        for key, c in CASES[:1] if round_ == 0 else CASES:
            ends = [(r, next(e for e in r.spec.endpoints if e.key == key))
                    for r in started.values()]
            together(ends, 8, 1.0)  # warm-up
            a, b = (result.rps for result in together(ends, c, duration))
            if round_ == 0:
                same.append(b / a)
                log(f"shared core, two without logging, {key}: {a:,.0f} and {b:,.0f} rps")
                continue
            got = dict(zip(started, (a, b), strict=True))
            pairs[f"{key} c={c}"].append(got["on"] / got["off"])
            log(f"shared core round {round_} {key:<11} without {got['off']:>7,.0f} rps, "
                f"logging {got['on']:>7,.0f} rps: {got['on'] / got['off']:.3f}")
        for running in started.values():
            fleet.stop(running)
    return {"pairs": pairs, "same_sides": same}


# ---------------------------------------------------------------- the 1M-row report

def prepare_report(rows: int) -> tuple[Path, Path]:
    """A home with the model registered and ``rows`` logged rows; the training rows as
    Parquet for Evidently."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from sklearn.linear_model import LogisticRegression

    from modelport.config import Settings
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.predlogs import logs_root
    from modelport.lifecycle.registry import get_version, register_model
    from modelport.runtimes.prediction_log import PredictionLog

    root = WORK / f"report-{rows}"
    home, reference = root / "home", root / "training.parquet"
    if (root / "ready").exists():
        return home, reference
    root.mkdir(parents=True, exist_ok=True)
    train = data.draw(TRAINING_ROWS, seed=1)
    frame = pd.DataFrame(train, columns=data.FEATURES)
    target = (frame.f0 - frame.f0.mean() + frame.f2 / 10 - 5 > 0).astype(int)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), reference)
    ws = Workspace.open(Settings(home=home))
    model = LogisticRegression(max_iter=500).fit(train, target)
    version = register_model("lr", model, X=frame, ws=ws)
    signature = get_version(version.ref, ws=ws).signature
    writer = PredictionLog(logs_root(ws), sample=1.0, flush_s=3600, max_rows=rows)
    current = data.draw(rows, seed=2)
    predictions = model.predict(current)
    for start in range(0, rows, 10_000):
        end = min(start + 10_000, rows)
        writer.record("lr", version.version, signature, f"req-{start}", current[start:end],
                      predictions[start:end])
    writer.close()
    if writer.written != rows:
        raise RuntimeError(f"the log writer kept {writer.written} of {rows} rows")
    (root / "ready").write_text("")
    return home, reference


def timed_cli(argv: list[str], extra_env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={**env(), **(extra_env or {})})
    return time.perf_counter() - started


def report(rows: int) -> dict[str, Any]:
    from modelport.config import Settings
    from modelport.core.store.engine import forget_stores
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.monitoring import monitor
    from modelport.lifecycle.report_html import render

    log(f"writing {rows:,} logged rows")
    home, reference = prepare_report(rows)
    ws = Workspace.open(Settings(home=home))
    runs: list[dict[str, float]] = []
    for _ in range(3):
        started = time.perf_counter()
        reports = monitor("lr", since_s=30 * 86400, ws=ws)
        computed = time.perf_counter()
        page = render(reports)
        done = time.perf_counter()
        runs.append({"compute_s": computed - started, "html_s": done - computed,
                     "total_s": done - started})
    forget_stores()
    (WORK / "modelport-report.html").write_text(page, encoding="utf-8")
    mine = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    mine["rows"] = reports[0]["volume"]["rows"]
    mine["drifted"] = sorted(n for n, c in reports[0]["features"].items() if c["status"] == "drift")
    mine["cli_s"] = statistics.median(timed_cli(
        [sys.executable, "-m", "modelport", "monitor", "lr", "--since", "30d", "--html",
         str(WORK / "modelport-cli.html")], {"MODELPORT_HOME": str(home)}) for _ in range(3))
    log("Evidently's DataDriftPreset on the same rows")
    logs = home / "artifacts" / "predictions"
    theirs = []
    for _ in range(2):  # each run: its in-process seconds, and the whole process's
        started = time.perf_counter()
        one = evidently("report", str(reference), str(logs), str(WORK / "evidently.html"))
        theirs.append({**one, "cli_s": time.perf_counter() - started})
    peer = {k: statistics.median(float(r[k]) for r in theirs)
            for k in ("read_s", "compute_s", "html_s", "total_s", "cli_s")}
    peer.update({k: theirs[0][k] for k in ("rows", "reference_rows", "drifted", "methods")})
    return {"modelport": mine, "evidently": peer,
            "speedup_in_process": peer["total_s"] / mine["total_s"],
            "speedup_cli": peer["cli_s"] / mine["cli_s"]}


# ---------------------------------------------------------------- false alarms

def modelport_alarms(sizes: list[int], reps: int) -> dict[str, list[dict[str, bool]]]:
    """Per window, per feature: flagged as drift by modelport's report code."""
    from modelport.lifecycle import drift, profile

    reference = data.draw(REFERENCE_ROWS, seed=1)
    columns = [profile.column(None, reference[:, j]) for j in range(data.N_FEATURES)]
    out: dict[str, list[dict[str, bool]]] = {}
    for n in sizes:
        for shifted in (False, True):
            windows = []
            for rep in range(reps):
                window = data.draw(n, data.window_seed(n, rep, shifted),
                                   SHIFT_SD if shifted else 0.0)
                windows.append({f: drift.compare_column(columns[j], window[:, j])["status"]
                                == drift.DRIFT for j, f in enumerate(data.FEATURES)})
            out[f"{n}/{'shifted' if shifted else 'undrifted'}"] = windows
    return out


def rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags)


def alarms(sizes: list[int], reps: int) -> dict[str, Any]:
    log(f"false alarms: windows of {sizes} rows, {reps} of each")
    mine = modelport_alarms(sizes, reps)
    theirs = evidently("alarms", "--sizes", ",".join(map(str, sizes)), "--reps", str(reps),
                       "--reference-rows", str(REFERENCE_ROWS))
    rows = []
    for n in sizes:
        mp_far = rate([v for w in mine[f"{n}/undrifted"] for v in w.values()])
        mp_power = rate([v for w in mine[f"{n}/shifted"] for v in w.values()])
        ev_null = [c for w in theirs[f"{n}/undrifted"] for c in w.values()]
        ev_alt = [c for w in theirs[f"{n}/shifted"] for c in w.values()]
        methods = sorted({c["method"] for c in ev_null + ev_alt})
        matched = None
        if mp_power > 0 and all("p_value" not in m.lower().replace("-", "_") for m in methods):
            # the distance Evidently would need to flag exactly modelport's share of shifts
            threshold = float(np.quantile([c["score"] for c in ev_alt], 1 - mp_power))
            matched = {"threshold": threshold,
                       "false_alarms": rate([c["score"] >= threshold for c in ev_null])}
        rows.append({"n": n, "trials": len(ev_null), "modelport_false_alarms": mp_far,
                     "modelport_power": mp_power,
                     "evidently_false_alarms": rate([c["drift"] for c in ev_null]),
                     "evidently_power": rate([c["drift"] for c in ev_alt]),
                     "evidently_methods": methods, "evidently_at_modelport_power": matched})
    return {"reference_rows": REFERENCE_ROWS, "shift_sd": SHIFT_SD, "reps": reps,
            "features": data.N_FEATURES, "rows": rows}


# ---------------------------------------------------------------- report

def versions() -> dict[str, str]:
    import pyarrow

    import modelport

    probe = subprocess.run([str(evidently_python()), "-c",
                            "import evidently, pandas; print(evidently.__version__, "
                            "pandas.__version__)"], capture_output=True, text=True, check=True)
    ev, pandas = probe.stdout.split()
    return {"python": platform.python_version(), "modelport": modelport.__version__,
            "pyarrow": pyarrow.__version__, "evidently": ev, "evidently_pandas": pandas,
            "wrk": ab.loadgen.version()}


def ran() -> str:
    """When a part ran, on which commit and under what load (parts may run apart)."""
    return (f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {commit()}, load average "
            + " ".join(f"{x:.2f}" for x in os.getloadavg()))


def commit() -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()


def markdown(result: dict[str, Any]) -> str:
    v = result["versions"]
    lines = [
        "Run: `python benchmarks/monitoring/bench.py` (one command; Evidently in its own venv).",
        "",
        f"{result['date']}, {os.cpu_count()} CPUs, Python {v['python']}, modelport "
        f"{v['modelport']} ({result['commit']}), Evidently {v['evidently']} (pandas "
        f"{v['evidently_pandas']}), pyarrow {v['pyarrow']}, {v['wrk']}; load average at the "
        f"start {result['load_start']}, at the end {result['load_end']}.", ""]
    for part, write in (("serving", _serving_md), ("report", _report_md),
                        ("alarms", _alarms_md)):
        if part in result:
            lines += write(result[part])
    return "\n".join(lines)


def _serving_md(s: dict[str, Any]) -> list[str]:
    lines = [
        f"**Serving with prediction logging** — `modelport serve lr` with and without "
        f"`--log-sample 0.1`, single-row JSON, server on core 0, wrk on core 1, "
        f"{s['rounds']} alternating rounds of {s['duration_s']:g} s (each spans a log "
        f"flush), medians. Logged rows: {s['logged_rows']:,} for "
        f"{s['measured_requests_logging']:,} measured requests "
        f"({s['logged_share']:.1%}; warm-ups also log). Ran {s.get('ran', 'before')}.", "",
        "| case | rps without | rps logging 10 % | logging ÷ without (target ≥ 0.95) "
        "| per-round pairs: median (range) | CPU µs/req without | CPU µs/req logging |",
        "|---|---:|---:|---:|---:|---:|---:|"]
    for case, c in s["cases"].items():
        pairs = _pairs(c["rounds_rps"], s["rounds"])
        lines.append(f"| {case} | {c['rps_off']:,.0f} | {c['rps_on']:,.0f} | {c['ratio']:.3f} "
                     f"| {statistics.median(pairs):.3f} ({min(pairs):.2f}–{max(pairs):.2f}) "
                     f"| {c['cpu_us_off']:.1f} | {c['cpu_us_on']:.1f} |")
    shared = s.get("shared_core")
    if shared:
        same = shared["same_sides"]
        lines += [
            "", f"**The same servers sharing the one core at once** (each with its own wrk, "
            f"c=32 each; {s['rounds']} rounds, the side started first alternating): the "
            "ratio of their requests/s is the inverse ratio of their CPU per request, and "
            "other load on the machine falls on both alike. Two servers without logging, "
            f"paired the same way, landed {min(same):.3f}–{max(same):.3f} of each other "
            "(the method's resolution).", "",
            "| case | logging ÷ without, each round | median (target ≥ 0.95) |",
            "|---|---|---:|"]
        for case, ratios in shared["pairs"].items():
            lines.append(f"| {case} | {', '.join(f'{r:.3f}' for r in ratios)} | "
                         f"**{statistics.median(ratios):.3f}** |")
    return [*lines, ""]


def _pairs(rounds_rps: list[float], rounds: int) -> list[float]:
    """Each round's logging ÷ without: ``rounds_rps`` holds the rounds without, then with."""
    return [on / off for off, on in zip(rounds_rps[:rounds], rounds_rps[rounds:], strict=True)]


def _report_md(r: dict[str, Any]) -> list[str]:
    m, e = r["modelport"], r["evidently"]
    return [
        f"**A drift report over {m['rows']:,} logged rows × 20 features** (undrifted), "
        f"written by modelport's log writer. modelport: `monitor()` against the profile "
        f"recorded at registration (50,000 training rows); Evidently: "
        f"`Report([DataDriftPreset()])` against those {e['reference_rows']:,} training "
        f"rows ({', '.join(e['methods'])}), the same Parquet files read with pyarrow. "
        "Seconds after the imports (medians); CLI: the whole process a user waits for. "
        f"Ran {r.get('ran', 'before')}.", "",
        "| system | read + compute s | HTML s | total s | CLI process s | columns flagged |",
        "|---|---:|---:|---:|---:|---:|",
        f"| **modelport monitor** | {m['compute_s']:.2f} | {m['html_s']:.2f} | "
        f"{m['total_s']:.2f} | {m['cli_s']:.2f} | {len(m['drifted'])} |",
        f"| Evidently DataDriftPreset | {e['read_s'] + e['compute_s']:.2f} | "
        f"{e['html_s']:.2f} | {e['total_s']:.2f} | {e['cli_s']:.2f} | "
        f"{len(e['drifted'])} |", "",
        f"modelport is **{r['speedup_in_process']:.1f}×** faster in process, "
        f"**{r['speedup_cli']:.1f}×** as CLI processes (target ≥ 5×).", ""]


def _alarms_md(a: dict[str, Any]) -> list[str]:
    lines = [
        f"**False alarms at equal detection power** — windows of n rows, {a['reps']} per "
        f"n and case, × {a['features']} features (each (window, feature) one trial), "
        f"baseline {a['reference_rows']:,} training rows; power on a "
        f"{a['shift_sd']:g}-SD mean shift of every feature. Method: this script's "
        f"docstring. Ran {a.get('ran', 'before')}.", "",
        "| n | trials | modelport false alarms | modelport power | Evidently false alarms "
        "(default) | Evidently power (default) | Evidently false alarms at modelport's "
        "power |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for row in a["rows"]:
        matched = row["evidently_at_modelport_power"]
        lines.append(
            f"| {row['n']:,} | {row['trials']:,} | {row['modelport_false_alarms']:.1%} | "
            f"{row['modelport_power']:.1%} | {row['evidently_false_alarms']:.1%} | "
            f"{row['evidently_power']:.1%} | "
            + (f"{matched['false_alarms']:.1%} (distance ≥ {matched['threshold']:.3f})"
               if matched else "— (modelport flags none)") + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per wrk run")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="300,500,1000,2000,5000,20000")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--only", default="serving,report,alarms")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    WORK.mkdir(parents=True, exist_ok=True)
    saved = RESULTS / "monitoring.json"
    # a run of some parts keeps the others' last numbers (each part says when it ran)
    result: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
    result.update({"date": time.strftime("%Y-%m-%d"), "commit": commit(),
                   "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                   "versions": versions()})
    if "serving" in parts:
        result["serving"] = {**serving(args.rounds, args.duration), "ran": ran()}
    if "report" in parts:
        result["report"] = {**report(args.rows), "ran": ran()}
    if "alarms" in parts:
        sizes = [int(s) for s in args.sizes.split(",")]
        result["alarms"] = {**alarms(sizes, args.reps), "ran": ran()}
    result["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / "monitoring.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
