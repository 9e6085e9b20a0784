"""Serving benchmark: modelport against the no-op ceiling, MLflow and BentoML, in one run.

Why it exists: issue 4 promises that ``modelport serve`` answers a small
model at ≥ 80 % of what a no-op ASGI app manages on the same core, ≥ 10× what
``mlflow models serve`` does, and that for a heavy model its batching pays
(≥ 3× its own unbatched path, ≥ 10× BentoML's adaptive batching). Such claims
only mean something side by side, on one machine, in one run, with the same
fitted model and the same request for every server — this script is that
run, and it records the ratios with a verdict each.

    python benchmarks/serving/bench.py [--quick] [--duration 8] [--rounds 3]

Setup, the same as in FIELD.md: each server pinned to core 0 (``taskset -c
0``), wrk on core 1 (one thread, keep-alive connections, one precomputed
single-row JSON POST), concurrency 1 and 32, after a short warm-up per
endpoint. Every answer is checked (the expected label) before any load. The
servers take turns for ``--rounds`` rounds and each line reports its median
round, so a slow minute of this shared machine does not decide a ratio. A
no-op on modelport's own HTTP server is measured beside the ceiling (a no-op
ASGI app under uvicorn) for information: ``modelport serve`` does not run on
uvicorn, and the pair shows what its HTTP layer costs.

It needs nothing installed but Python 3.11+ and root for ``apt-get install
wrk`` (when wrk is missing): it builds two virtualenvs under
``benchmarks/serving/.venv/`` (git-ignored) — ``modelport`` (this repository,
editable, with its ``onnx`` extra, plus py-spy for the profiles) and
``peers`` (MLflow, BentoML, Starlette + uvicorn for the ceiling, and the same
scikit-learn as modelport's so both load the same pickled estimators). The
peers never become dependencies of modelport. ``--quick`` runs short and
writes to ``benchmarks/serving/work/`` only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import loadgen
import profiles
import quiet
import report
from procs import HOST, SERVER_CORE, Endpoint, Fleet, Running, ServerSpec, post

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENVS = HERE / ".venv"
WORK = HERE / "work"
RESULTS = REPO / "benchmarks" / "results"
README = REPO / "benchmarks" / "README.md"
PEER_REQUIREMENTS = ["mlflow==3.17.*", "bentoml==1.4.*", "starlette", "uvicorn[standard]"]
MODELPORT_EXTRAS = "[onnx]"
TOOLS = ["py-spy"]
CONCURRENCY = (1, 32)
MODELS = ("lr", "forest")
ATTEMPTS = 3  # runs of one measurement at most, when other processes disturb it
DISTURBED = report.DISTURBED  # of a core, taken by processes other than server and wrk
QUIET_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
             "BENTOML_DO_NOT_TRACK": "true"}
# OpenBLAS tuning this workplace sets for old OpenBLAS builds slows a current NumPy:
# unset for every server alike (see the env notes); recorded in the results
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
README_INTRO = """# Benchmarks

Each benchmark runs the peers users compare modelport with and modelport itself
side by side, in one run on one machine, and writes a JSON record and a
markdown table to `benchmarks/results/`. Benchmarks are not tests: CI does not
run them.
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- environments -------------------------------------------------------------------------

def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _probe(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          check=False)


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", *args], check=True)


def _make_venv(venv: Path) -> Path:
    python = _python(venv)
    if not python.exists():
        log(f"creating {venv.relative_to(REPO)}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    return python


def modelport_env(given: str | None) -> Path:
    """A Python where modelport (this checkout) runs with its ONNX extra, and py-spy."""
    python = Path(given) if given else _make_venv(VENVS / "modelport")
    probe = _probe(python, "import modelport, onnxruntime, skl2onnx; print(modelport.__file__)")
    where = Path(probe.stdout.strip() or "/").resolve()
    if probe.returncode != 0 or not where.is_relative_to(REPO):
        if given:
            raise SystemExit(f"{python} has no editable modelport from {REPO} with the onnx "
                             f"extra: {probe.stderr.strip()[-300:]}")
        log("installing modelport (editable, [onnx]) and py-spy")
        _pip(python, "-e", f"{REPO}{MODELPORT_EXTRAS}", *TOOLS)
    elif shutil.which("py-spy", path=str(python.parent)) is None and not given:
        _pip(python, *TOOLS)
    return python


def peers_env(sklearn_version: str) -> Path:
    """MLflow, BentoML and the ceiling's Starlette, with modelport's scikit-learn version."""
    python = _make_venv(VENVS / "peers")
    probe = _probe(python, "import mlflow, bentoml, starlette, uvicorn, uvloop, httptools, "
                   "sklearn; print(sklearn.__version__)")
    if probe.returncode != 0 or probe.stdout.strip() != sklearn_version:
        log(f"installing {', '.join(PEER_REQUIREMENTS)}, scikit-learn=={sklearn_version}")
        _pip(python, *PEER_REQUIREMENTS, f"scikit-learn=={sklearn_version}")
    return python


def versions(python: Path, names: list[str]) -> dict[str, str | None]:
    code = ("import json, importlib.metadata as m\nout = {}\n"
            f"for n in {names!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: out[n] = None\n"
            "print(json.dumps(out))")
    probe = _probe(python, code)
    return json.loads(probe.stdout) if probe.returncode == 0 else {}


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    log("installing wrk (apt-get)")
    if subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True,
                      check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, check=True)


def check_machine() -> None:
    if shutil.which("taskset") is None:
        raise SystemExit("taskset is missing (util-linux)")
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("needs two cores: one for the server, one for wrk")


# --- the servers ----------------------------------------------------------------------------

def _v2_label(doc: Any) -> Any:
    return next(o for o in doc["outputs"] if o["name"] == "prediction")["data"][0]


def _predictions_label(doc: Any) -> Any:
    return doc["predictions"][0]


def _bento_label(doc: Any) -> Any:
    return doc[0]


def write_bodies(row: list[float]) -> dict[str, Path]:
    """The one request, in each protocol's words (JSON, single row, the same 20 values)."""
    bodies = {
        "v2": {"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP32",
                           "data": row}]},
        "inputs": {"inputs": [row]},
        "bento": {"input": [row]},
    }
    out = {}
    for name, doc in bodies.items():
        path = WORK / "bodies" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, separators=(",", ":")))
        out[name] = path
    return out


class Context:
    def __init__(self, mp_python: Path, peers_python: Path, bodies: dict[str, Path],
                 peers: dict[str, Any], peer_versions: dict[str, Any]) -> None:
        self.mp_python = mp_python
        self.peer_versions = peer_versions
        self.peers_python = peers_python
        self.bodies = bodies
        self.peers = peers

    def modelport_cli(self) -> str:
        cli = self.mp_python.parent / "modelport"
        return str(cli) if cli.exists() else str(self.mp_python)


def server_specs(ctx: Context, model: str) -> list[ServerSpec]:
    peers_bin = ctx.peers_python.parent
    mlflow_versions = ctx.peer_versions
    ceiling = ServerSpec(
        "ceiling", "no-op Starlette + uvicorn (ceiling)",
        [str(ctx.peers_python), "-m", "uvicorn", "noop_app:app", "--host", HOST,
         "--port", "{port}", "--loop", "uvloop", "--http", "httptools", "--no-access-log",
         "--log-level", "warning"],
        [Endpoint("noop", "/invocations", ctx.bodies["inputs"], None)], cwd=HERE,
        notes="answers a fixed JSON after reading the body; one worker, uvloop + httptools")

    floor = ServerSpec(
        "floor", "no-op on modelport's own HTTP server (for information)",
        [str(ctx.mp_python), "noop_h1.py", HOST, "{port}"],
        [Endpoint("noop", "/invocations", ctx.bodies["inputs"], None)], cwd=HERE,
        notes="the ceiling's fixed answer on modelport's HTTP server: its HTTP cost alone")

    def modelport(key: str, label: str, flags: list[str], invocations: bool) -> ServerSpec:
        endpoints = [Endpoint("v2", f"/v2/models/{model}/infer", ctx.bodies["v2"], _v2_label)]
        if invocations:
            endpoints.append(Endpoint("invocations", "/invocations", ctx.bodies["inputs"],
                                      _predictions_label))
        cli = ctx.modelport_cli()
        head = [cli] if cli.endswith("modelport") else [cli, "-m", "modelport"]
        return ServerSpec(key, label, [*head, "serve", model, "--port", "{port}", *flags],
                          endpoints, env={"MODELPORT_HOME": str(WORK / "home")},
                          notes=" ".join(["modelport serve", model, *flags]))

    specs = [ceiling, *([floor] if model == "lr" else []),
             modelport("modelport", "modelport serve (default: ONNX + batching)",
                       ["--runtime", "auto"], invocations=True)]
    if model == "forest":
        specs += [
            modelport("modelport-native-unbatched", "modelport --runtime native --no-batching",
                      ["--runtime", "native", "--no-batching"], invocations=False),
            modelport("modelport-native", "modelport --runtime native (batched)",
                      ["--runtime", "native"], invocations=False),
            modelport("modelport-onnx-unbatched", "modelport --runtime onnx --no-batching",
                      ["--runtime", "onnx", "--no-batching"], invocations=False),
        ]
    mlflow_info = ctx.peers["mlflow"]
    specs.append(ServerSpec(
        "mlflow", f"mlflow models serve (MLflow {mlflow_versions.get('mlflow')})",
        [str(peers_bin / "mlflow"), "models", "serve", "-m", mlflow_info[model]["model_uri"],
         "--env-manager", "local", "-h", HOST, "-p", "{port}", "-w", "1"],
        [Endpoint("invocations", "/invocations", ctx.bodies["inputs"], _predictions_label)],
        env={"MLFLOW_TRACKING_URI": mlflow_info["tracking_uri"],
             "PATH": f"{peers_bin}{os.pathsep}{os.environ.get('PATH', '')}"},
        notes=f"--env-manager local, one uvicorn worker; {mlflow_info[model]['serialization']}"))
    specs.append(ServerSpec(
        "bentoml", f"BentoML {mlflow_versions.get('bentoml')}, adaptive batching",
        [str(peers_bin / "bentoml"), "serve", "bento_service:Classifier", "--host", HOST,
         "--port", "{port}"],
        [Endpoint("predict", "/predict", ctx.bodies["bento"], _bento_label)],
        env={"BENTOML_HOME": ctx.peers["bentoml"]["home"], "BENCH_MODEL": model,
             "PATH": f"{peers_bin}{os.pathsep}{os.environ.get('PATH', '')}"},
        cwd=HERE, notes="@bentoml.service(workers=1), @bentoml.api(batchable=True), defaults"))
    return specs


def batch_stats(running: Running) -> dict[str, float] | None:
    """modelport's own count of model calls and rows (its Prometheus histogram)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://{HOST}:{running.port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    total = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        for key in total:
            if line.startswith(f"modelport_batch_size_rows_{key}{{"):
                total[key] += float(line.rsplit(" ", 1)[1])
    if not total["count"]:
        return None
    return {"count": total["count"], "rows": total["sum"],
            "mean_rows": total["sum"] / total["count"]}


class WaitBudget:
    """Seconds the whole run may spend waiting for a quiet machine (and re-running)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0

    def left(self) -> float:
        return max(0.0, self.seconds - self.spent)

    def spend(self, seconds: float) -> None:
        self.spent += seconds


BUDGET = WaitBudget(1500.0)
REMEASURE_SHARE = 0.6  # extra waiting allowed for re-measuring disturbed runs, as a share


def undisturbed(spec: ServerSpec, endpoint: Endpoint, url: str, c: int, duration: float,
                running: Running) -> dict[str, Any]:
    """One wrk run on a quiet machine: wait for quiet, run, and run again (up to
    ``ATTEMPTS`` times) when other processes took more than ``DISTURBED`` of a core;
    the least disturbed attempt is kept."""
    best: dict[str, Any] | None = None
    for attempt in range(1, ATTEMPTS + 1):
        before = quiet.wait_quiet(max_wait=min(quiet.MAX_WAIT_S, BUDGET.left()), say=log)
        BUDGET.spend(before["waited_s"])
        meter, ticks = quiet.Meter(running.pid), quiet.children_ticks()
        result = loadgen.run(url, endpoint.body, c, duration)
        cpu = meter.stop(quiet.children_ticks() - ticks)
        log(f"  {spec.key:<28} {endpoint.key:<12} c={c:<3} {result.rps:>9,.0f} rps  "
            f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:8.2f} ms  errors {result.errors}"
            f"  cores: server {cpu['server_cores']:.2f} wrk {cpu['load_cores']:.2f} "
            f"other {cpu['other_cores']:.2f}")
        record = {**result.to_dict(), "cpu": cpu, "quiet_before": before, "attempt": attempt}
        if best is None or cpu["other_cores"] < best["cpu"]["other_cores"]:
            best = record
        if cpu["other_cores"] <= DISTURBED or BUDGET.left() <= 0:
            break
        log(f"  disturbed: other processes took {cpu['other_cores']:.2f} cores, again")
        BUDGET.spend(duration)
    assert best is not None
    return best


def measure(fleet: Fleet, spec: ServerSpec, model: str, expected: Any, duration: float,
            warmup: float) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    log(f"{model}: starting {spec.label}")
    running = fleet.start(spec, f"{model}-{spec.key}")
    runs: list[dict[str, Any]] = []
    info: dict[str, Any] = {"label": spec.label, "notes": spec.notes,
                            "command": " ".join(spec.argv)}
    try:
        started = time.monotonic()
        running.wait_ready(expected)
        info["ready_s"] = round(time.monotonic() - started, 2)
        for endpoint in spec.endpoints:
            url = running.url(endpoint)
            loadgen.run(url, endpoint.body, 32, warmup)
            for c in CONCURRENCY:
                runs.append({"model": model, "server": spec.key, "label": spec.label,
                             "endpoint": endpoint.key, "path": endpoint.path,
                             "concurrency": c, **undisturbed(spec, endpoint, url, c, duration,
                                                             running)})
            # the server still answers correctly after the load
            status, answer = post(url, endpoint.body.read_bytes())
            if status != 200 or (endpoint.label_of is not None
                                 and endpoint.label_of(json.loads(answer)) != expected):
                raise RuntimeError(f"{spec.label} answered {status} {answer[:200]!r} after load")
        if spec.key.startswith("modelport"):
            info["batches"] = batch_stats(running)
    finally:
        fleet.stop(running)
    return runs, info


def remeasure_disturbed(fleet: Fleet, ctx: Context, runs: list[dict[str, Any]],
                        expected: dict[str, Any], duration: float, warmup: float) -> int:
    """Restart each server that had a disturbed run and measure those runs again, keeping
    the less disturbed result; returns how many were replaced."""
    todo: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        if report.disturbed(run):
            todo.setdefault((run["model"], run["server"]), []).append(run)
    replaced = 0
    for (model, key), bad in todo.items():
        if BUDGET.left() <= 0:
            log("no time left to re-measure disturbed runs")
            break
        spec = next(s for s in server_specs(ctx, model) if s.key == key)
        log(f"{model}: re-measuring {len(bad)} disturbed run(s) of {spec.label}")
        running = fleet.start(spec, f"again-{model}-{key}")
        try:
            running.wait_ready(expected[model])
            for run in bad:
                endpoint = next(e for e in spec.endpoints if e.key == run["endpoint"])
                url = running.url(endpoint)
                loadgen.run(url, endpoint.body, 32, warmup)
                again = undisturbed(spec, endpoint, url, run["concurrency"], duration, running)
                if again["cpu"]["other_cores"] < run["cpu"]["other_cores"]:
                    run.update(again, remeasured=True)
                    replaced += 1
        finally:
            fleet.stop(running)
    return replaced


PROFILED = (("lr", "ceiling", "noop"), ("lr", "modelport", "v2"),
            ("lr", "modelport", "invocations"), ("forest", "modelport", "v2"),
            ("forest", "modelport-native", "v2"), ("forest", "modelport-native-unbatched", "v2"))


def profile_all(fleet: Fleet, ctx: Context, models: list[str], expected: dict[str, Any],
                seconds: float, out_dir: Path) -> list[dict[str, Any]]:
    py_spy = ctx.mp_python.parent / "py-spy"
    if not py_spy.exists():
        found = shutil.which("py-spy")
        if found is None:
            log("py-spy not found: no profiles")
            return []
        py_spy = Path(found)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for model, key, endpoint_key in PROFILED:
        if model not in models:
            continue
        spec = next(s for s in server_specs(ctx, model) if s.key == key)
        endpoint = next(e for e in spec.endpoints if e.key == endpoint_key)
        log(f"profiling {model} {spec.label} {endpoint.key}")
        running = fleet.start(spec, f"profile-{model}-{key}-{endpoint_key}")
        try:
            running.wait_ready(expected[model])
            url = running.url(endpoint)
            loadgen.run(url, endpoint.body, 32, 1)
            BUDGET.spend(quiet.wait_quiet(max_wait=min(60.0, BUDGET.left()),
                                          say=log)["waited_s"])
            load = loadgen.start(url, endpoint.body, 32, seconds + 2)
            time.sleep(1)
            raw = out_dir / f"{model}-{key}-{endpoint_key}.txt"
            profiles.record(py_spy, running.pid, seconds, raw)
            rps = loadgen.finish(load, seconds + 2).rps
            results.append({"model": model, "server": key, "label": spec.label,
                            "endpoint": endpoint_key, **profiles.summary(raw, rps)})
        except (subprocess.CalledProcessError, RuntimeError, ValueError) as exc:
            log(f"  profile failed: {exc}")
        finally:
            fleet.stop(running)
    return results


# --- the run --------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": round(mem / 2**30, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "system": platform.platform()}


def git_describe() -> str:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"],
                           capture_output=True, text=True, check=False).stdout.strip()
    return f"{head}{'+dirty src' if dirty else ''}" or "unknown"


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="short runs (2 s), results to benchmarks/serving/work/ only")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (default 8)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per endpoint (default 2)")
    parser.add_argument("--rounds", type=int,
                        help="alternating rounds over every server; each line reports the "
                             "round with the median rps (default 3; 1 with --quick)")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated subset of: lr,forest")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="py-spy profiles of modelport under load (default: on, off "
                             "with --quick)")
    parser.add_argument("--max-wait", type=float,
                        help="seconds the whole run may wait for other processes to go quiet "
                             "(default 1500; 120 with --quick)")
    parser.add_argument("--report-only", action="store_true",
                        help="only re-render results/serving.md and the README block from "
                             "results/serving.json")
    parser.add_argument("--modelport-python",
                        help="a Python with modelport installed editable from this checkout "
                             "(default: build benchmarks/serving/.venv/modelport)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_only()
    duration = args.duration or (2.0 if args.quick else 8.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 2.0)
    BUDGET.seconds = args.max_wait if args.max_wait is not None else (
        120.0 if args.quick else 1500.0)
    do_profile = args.profile if args.profile is not None else not args.quick
    models = [m for m in args.models.split(",") if m]
    if set(models) - set(MODELS):
        raise SystemExit(f"--models takes {', '.join(MODELS)}")
    check_machine()
    ensure_wrk()
    mp_python = modelport_env(args.modelport_python)
    mp_versions = versions(mp_python, ["modelport", "scikit-learn", "numpy", "onnxruntime",
                                       "skl2onnx", "uvicorn", "uvloop", "httptools", "orjson",
                                       "py-spy"])
    peers_python = peers_env(str(mp_versions["scikit-learn"]))
    peer_versions = versions(peers_python, ["mlflow", "bentoml", "starlette", "uvicorn",
                                            "uvloop", "httptools", "fastapi", "scikit-learn",
                                            "numpy"])
    for name in OPENBLAS_VARS:
        os.environ.pop(name, None)
    os.environ.update(QUIET_ENV)

    WORK.mkdir(parents=True, exist_ok=True)
    log("fitting the models, registering them in modelport and exporting ONNX")
    subprocess.run([str(mp_python), str(HERE / "prepare_models.py"), str(WORK)], check=True,
                   stdout=subprocess.DEVNULL)
    log("saving the same models for MLflow and BentoML")
    subprocess.run([str(peers_python), str(HERE / "prepare_peers.py"), str(WORK)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = json.loads((WORK / "models" / "meta.json").read_text())
    peers = json.loads((WORK / "peers.json").read_text())
    ctx = Context(mp_python, peers_python, write_bodies(meta["row"]), peers, peer_versions)
    expected = {m: meta["models"][m]["expected_label"] for m in models}

    fleet = Fleet(WORK / "logs")
    signal.signal(signal.SIGTERM, _stop_on_signal)
    runs: list[dict[str, Any]] = []
    servers: dict[str, dict[str, Any]] = {}
    profile_results: list[dict[str, Any]] = []
    replaced = 0
    started = time.monotonic()
    rounds = args.rounds or (1 if args.quick else 3)
    try:
        every: list[dict[str, Any]] = []
        for round_no in range(1, rounds + 1):
            for model in models:
                for spec in server_specs(ctx, model):
                    log(f"round {round_no} of {rounds}")
                    model_runs, info = measure(fleet, spec, model, expected[model], duration,
                                               warmup)
                    every += [{**run, "round": round_no} for run in model_runs]
                    servers.setdefault(model, {})[spec.key] = info
        runs = report.median_rounds(every)
        BUDGET.seconds += REMEASURE_SHARE * BUDGET.seconds
        replaced = remeasure_disturbed(fleet, ctx, runs, expected, duration, warmup)
        if do_profile:
            profile_results = profile_all(fleet, ctx, models, expected, min(duration, 6.0),
                                          WORK / "profiles")
    finally:
        fleet.stop_all()

    result: dict[str, Any] = {
        "benchmark": "serving",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/serving/bench.py " + " ".join(sys.argv[1:] if argv is None
                                                                    else argv),
        "git": git_describe(),
        "wall_s": round(time.monotonic() - started, 1),
        "machine": machine(),
        "versions": {"modelport": mp_versions, "peers": peer_versions},
        "settings": {
            "duration_s": duration, "warmup_s": warmup, "concurrency": list(CONCURRENCY),
            "rounds": rounds,
            "server_core": int(SERVER_CORE), "load_core": int(loadgen.LOAD_CORE),
            "wrk_version": loadgen.version(),
            "wrk_command": f"taskset -c {loadgen.LOAD_CORE} wrk -t1 -cC -d{duration:g}s "
                           f"--latency --timeout {loadgen.TIMEOUT_S}s -s post.lua URL",
            "host": HOST, "unset_env": list(OPENBLAS_VARS), "server_env": QUIET_ENV,
            "quiet": {"below_cores": quiet.QUIET_BELOW, "disturbed_above_cores": DISTURBED,
                      "attempts": ATTEMPTS, "wait_budget_s": BUDGET.seconds,
                      "waited_or_rerun_s": round(BUDGET.spent, 1),
                      "remeasured_runs": replaced},
        },
        "models": {m: meta["models"][m] for m in models},
        "request_row": meta["row"],
        "bodies": {k: json.loads(p.read_text()) for k, p in ctx.bodies.items()},
        "peers": peers,
        "servers": servers,
        "runs": runs,
        "targets": report.targets(runs),
        "profiles": profile_results,
    }
    out_dir = WORK if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    write_reports(result, out_dir, readme=not args.quick and set(models) == set(MODELS))
    return 0


def write_reports(result: dict[str, Any], out_dir: Path, readme: bool) -> None:
    """``serving.md`` (with the profiles) and, for a full run, the README's block."""
    text = report.markdown(result)
    (out_dir / "serving.md").write_text("# Serving benchmark\n\n" + text)
    if readme:
        block = (f"Run: `python benchmarks/serving/bench.py [--quick] [--duration 8]` — last "
                 f"full run {result['date'][:10]} (`{result['command'].strip()}`, "
                 f"{result['wall_s'] / 60:.0f} min).\n\n"
                 f"{report.markdown(result, with_profiles=False)}\n"
                 "Profiles (py-spy): [results/serving.md](results/serving.md); raw numbers: "
                 "[results/serving.json](results/serving.json).")
        report.update_readme(README, block, README_INTRO)
    print(text)
    for target in result["targets"]:
        log(f"{target['title']}: {report.verdict(target['met'])}")


def report_only() -> int:
    """Re-render the markdown and the README block from ``results/serving.json``."""
    result = json.loads((RESULTS / "serving.json").read_text())
    result["targets"] = report.targets(result["runs"])
    (RESULTS / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    write_reports(result, RESULTS, readme=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted: servers stopped")
        sys.exit(130)
