"""UI benchmark: modelport's dashboard against MLflow 3's UI, in the same headless chromium.

Why it exists: MLflow's runs page is its most complained-about surface (it broke
at 1,701 runs, took a minute for 500, its charts freeze on long histories). The
dashboard was built against that — keyset pages from the server, histories cut
to the chart's width on the server, no framework — and this checks the claim on
the tracking benchmark's runs (``benchmarks/tracking/systems.make_runs``), the
same in both stores, measured in one browser, the two systems taking turns:

- first page: from navigation to the runs table showing its newest run;
- sort: from navigation to the runs sorted by ``metrics.accuracy`` descending
  (both read the order from the URL) until the best run is on top; modelport's
  in-page click on the column is reported too;
- compare: from navigation to 10 runs' 1,000-step ``loss`` histories drawn.

``--large 100000`` also times the first page and the sort on a modelport store of that
many runs (the issue's "100,000 runs stay usable": first page under 2 s), filled
through the store's repositories directly — one insert and one batch per run, not
100,000 tracked runs or HTTP calls — and reported in its own table.

    python benchmarks/ui/bench.py [--runs 10000] [--quick] [--no-mlflow]

MLflow runs from its own virtualenv (``benchmarks/ui/.venv``, made on first
use), never as a modelport dependency; modelport and the browser run from the
current interpreter (``pip install -e '.[test]'`` gives both). Needs Debian's
``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "tracking"))

import report  # noqa: E402  (the tracking benchmark's: the environment record)
import ui_report  # noqa: E402
from history import loss  # noqa: E402
from mlflow_ui import MlflowUi  # noqa: E402
from modelport_ui import ModelportUi  # noqa: E402
from systems import ModelportSystem, RunData, make_runs  # noqa: E402

VENV = HERE / ".venv"
MLFLOW_REQUIREMENT = "mlflow==3.*"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
QUERIES = ("first_page", "sort", "compare")


def mlflow_python() -> Path:
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "mlflow").exists():
        print(f"installing {MLFLOW_REQUIREMENT} into {VENV.relative_to(REPO)} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", MLFLOW_REQUIREMENT],
                       check=True)
    return python


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


@contextmanager
def process(args: list[str], ready: str, env: dict[str, str] | None = None) -> Iterator[None]:
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(ready, proc)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cached(marker: Path, fill: Callable[[], Any]) -> Any:
    """``fill()``'s answer, kept in ``marker`` beside the store it filled: filling MLflow's
    store with 10,000 runs takes half an hour, the measurements a few minutes."""
    if marker.exists():
        return json.loads(marker.read_text())
    result = fill()
    marker.write_text(json.dumps(result))
    return result


def fill_modelport(home: Path, runs: list[RunData], history_runs: int, steps: int) -> list[str]:
    from modelport.core.store.runs import MetricValue

    if home.exists():  # a fill cut short: start again
        shutil.rmtree(home)

    system = ModelportSystem(home)
    for run in runs:
        system.log(run)
    ids = []
    for i, run in enumerate(runs[:history_runs]):
        found = system.modelport.search_runs(f"attributes.name = '{run.name}'", ws=system.ws)
        run_id = found.runs[0].id
        system.ws.store.runs.log_batch(run_id, {}, [MetricValue("loss", s, loss(i, s))
                                                    for s in range(steps)], {}, time.time())
        ids.append(run_id)
    return ids


def fill_bulk(home: Path, runs: list[RunData]) -> None:
    """The runs through the store's repositories: two transactions a run, no tracking."""
    import uuid

    import modelport
    from modelport.core.store.runs import MetricValue, RunRecord

    if home.exists():
        shutil.rmtree(home)
    ws = modelport.Workspace.open(modelport.Settings(home=home))
    start = time.time() - len(runs)
    for i, run in enumerate(runs):
        run_id = uuid.uuid4().hex
        ws.store.runs.create_run(RunRecord(
            id=run_id, name=run.name, experiment="bench", status="FINISHED",
            start_time=start + i, end_time=start + i + 1, duration=1.0, dataset_digest=None,
            git_commit=None, packages={}))
        ws.store.runs.log_batch(run_id, run.params, [MetricValue(k, 0, v) for k, v in
                                                     run.metrics.items()], run.tags, start + i)


def measure_large(n: int, seed: int, work: Path, repeats: int, shots: Path | None
                  ) -> dict[str, dict[str, Any]]:
    """First page and sort on an ``n``-run modelport store (kept in ``work`` for reuse)."""
    from playwright.sync_api import sync_playwright

    runs = make_runs(n, seed)
    best = max(runs, key=lambda r: r.metrics["accuracy"]).name
    home = work / f"large-{n}-{seed}"
    t = time.perf_counter()
    cached(home.with_suffix(".json"), lambda: fill_bulk(home, runs) or [])
    print(f"{n:,}-run store ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with process([sys.executable, "-m", "modelport", "ui", "--port", str(port)],
                 url + "/healthz", {"MODELPORT_HOME": str(home)}), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ui = ModelportUi(browser.new_page(viewport={"width": 1440, "height": 900}), url,
                         runs[-1].name, best, [], shots)
        results: dict[str, dict[str, Any]] = {}
        for query in ("first_page", "sort", "sort_click"):
            timing: dict[str, Any] = {"times_s": []}
            timing["warmup_s"] = _time(getattr(ui, query), timing)
            for _ in range(repeats):
                elapsed = _time(getattr(ui, query), timing)
                if elapsed is not None:
                    timing["times_s"].append(elapsed)
            if timing["times_s"]:
                timing["best_s"] = min(timing["times_s"])
            print(f"{query:>11} {n:,} runs: {timing}", file=sys.stderr, flush=True)
            results[query] = {"modelport": timing}
        browser.close()
    return results


def fill_mlflow(root: Path, n: int, seed: int, history_runs: int, steps: int) -> dict[str, Any]:
    if root.exists():
        shutil.rmtree(root)
    out = subprocess.run([str(mlflow_python()), str(HERE / "mlflow_load.py"), str(root), str(n),
                          str(seed), str(history_runs), str(steps)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure(uis: dict[str, Any], repeats: int) -> dict[str, dict[str, Any]]:
    """Each view once per system to warm up (the browser's cache fills, the servers load),
    then ``repeats`` rounds in which the systems take turns, alternating who goes first, so
    a change of load on a shared machine hits both alike."""
    results: dict[str, dict[str, Any]] = {q: {} for q in (*QUERIES, "sort_click")}
    for query, got in results.items():
        views = {key: getattr(ui, query) for key, ui in uis.items() if hasattr(ui, query)}
        for key, view in views.items():
            got[key] = {"times_s": []}
            got[key]["warmup_s"] = _time(view, got[key])
        for round_ in range(repeats):
            for key in list(views) if round_ % 2 == 0 else list(views)[::-1]:
                if "error" not in got[key]:
                    elapsed = _time(views[key], got[key])
                    if elapsed is not None:
                        got[key]["times_s"].append(elapsed)
        for key, timing in got.items():
            if "error" not in timing:
                timing["best_s"] = min(timing["times_s"])
            print(f"{query:>11} {key:>9}: {timing}", file=sys.stderr, flush=True)
    return results


def _time(view: Callable[[], float], timing: dict[str, Any]) -> float | None:
    """``view()``'s time; a view that fails is reported with its error, not hidden."""
    try:
        return view()
    except Exception as exc:
        timing["error"] = str(exc).splitlines()[0][:300]
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--history-runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 runs, one repeat")
    parser.add_argument("--large", type=int, default=0,
                        help="also time the first page and a sort on a store of this many runs")
    parser.add_argument("--large-only", action="store_true",
                        help="only the --large measurement (its own JSON and markdown)")
    parser.add_argument("--no-mlflow", action="store_true", help="measure modelport alone")
    parser.add_argument("--screenshots", type=Path, help="save each page's screenshot here")
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) /
                        "modelport-ui-bench", help="where the filled stores are kept for reuse")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.repeats = 500, 1
    from playwright.sync_api import sync_playwright

    started, before = time.time(), report.environment(REPO)
    if args.large_only:
        return _large_only(args, started, before)
    runs = make_runs(args.runs, args.seed)
    best = max(runs, key=lambda r: r.metrics["accuracy"]).name
    work = args.data / f"{args.runs}-{args.seed}-{args.history_runs}x{args.steps}"
    work.mkdir(parents=True, exist_ok=True)  # the stores stay there for the next run
    t = time.perf_counter()
    ids = cached(work / "modelport.json", lambda: fill_modelport(
        work / "modelport", runs, args.history_runs, args.steps))
    print(f"modelport store ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    mlflow = None
    if not args.no_mlflow:
        t = time.perf_counter()
        mlflow = cached(work / "mlflow.json", lambda: fill_mlflow(
            work / "mlflow", args.runs, args.seed, args.history_runs, args.steps))
        print(f"MLflow store ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    mp_port, ml_port = free_port(), free_port()
    mp_url, ml_url = f"http://127.0.0.1:{mp_port}", f"http://127.0.0.1:{ml_port}"
    with process([sys.executable, "-m", "modelport", "ui", "--port", str(mp_port)],
                 mp_url + "/healthz", {"MODELPORT_HOME": str(work / "modelport")}), \
            (process([str(VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1",
                      "--port", str(ml_port), "--workers", "1", "--backend-store-uri",
                      f"sqlite:///{work / 'mlflow' / 'mlflow.db'}"], ml_url + "/health")
             if mlflow else _nothing()), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        viewport = {"width": 1440, "height": 900}
        uis: dict[str, Any] = {"modelport": ModelportUi(
            browser.new_page(viewport=viewport), mp_url, runs[-1].name, best, ids,
            args.screenshots)}
        if mlflow:
            uis["MLflow"] = MlflowUi(browser.new_page(viewport=viewport), ml_url,
                                     mlflow["experiment"], runs[-1].name, best,
                                     mlflow["history_ids"], args.screenshots)
        results = measure(uis, args.repeats)
        browser.close()
    summary = ui_report.build(results, vars(args), before, report.environment(REPO), started)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    out = REPO / "benchmarks" / "results"
    (out / "ui.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "ui.md").write_text(ui_report.markdown(summary))
    print(ui_report.markdown(summary))
    return 0


def _large_only(args: argparse.Namespace, started: float, before: dict[str, Any]) -> int:
    args.data.mkdir(parents=True, exist_ok=True)
    results = measure_large(args.large, args.seed, args.data, args.repeats, args.screenshots)
    summary = ui_report.build(results, {**vars(args), "runs": args.large}, before,
                              report.environment(REPO), started)
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "ui_large.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "ui_large.md").write_text(ui_report.markdown(summary))
    print(ui_report.markdown(summary))
    return 0


@contextmanager
def _nothing() -> Iterator[None]:
    yield


if __name__ == "__main__":
    sys.exit(main())
