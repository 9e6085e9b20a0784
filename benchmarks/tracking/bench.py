"""Tracking benchmark: modelport's run logging and search against MLflow's, in one run.

Why it exists: MLflow's SQL tracking store is what users compare us with, and
it is known to slow down badly as runs pile up (a filtered ``search_runs``
takes minutes at ~30k runs; fetching 10k runs takes ~20 s here). modelport's
store was designed against exactly that (narrow metric tables, a latest-value
index, keyset pagination); this benchmark checks the claim on the same data,
on the same machine, in the same process, and fails loudly if the two systems
disagree on what a query returns.

    python benchmarks/tracking/bench.py [--runs 10000] [--quick]

It builds its own virtualenv (``benchmarks/tracking/.venv``) with MLflow and
modelport (editable, from this repository) on first use and re-runs itself
there, so MLflow never becomes a dependency of modelport.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import report
from systems import (
    FILTER,
    ORDER_BY,
    PAGE_SIZE,
    PAGES,
    TOP_K,
    MlflowSystem,
    ModelportSystem,
    RunData,
    System,
    make_runs,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = HERE / ".venv"
MLFLOW_REQUIREMENT = "mlflow==3.*"
DEFAULT_RUNS = 10_000
QUICK_RUNS = 500
REPEATS = 3
LOG_BLOCK = 100
QUERY_RESULTS = {"top": "top100", "fetch_all": "fetch_all", "pages": "pages"}


def _venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def _bootstrap() -> None:
    """Create the benchmark's virtualenv if needed, then re-execute inside it."""
    python = _venv_bin("python")
    if not python.exists():
        print(f"creating {VENV.relative_to(REPO)} …", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import mlflow, modelport; print(modelport.__file__)"],
        capture_output=True, text=True, check=False)
    where = Path(probe.stdout.strip() or "/").resolve()
    if probe.returncode != 0 or not where.is_relative_to(REPO):
        print(f"installing {MLFLOW_REQUIREMENT} and modelport (editable) …", file=sys.stderr,
              flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", MLFLOW_REQUIREMENT,
                        "-e", str(REPO)], check=True)
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def _in_bench_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


class Mismatch(RuntimeError):
    """The two systems answered the same query differently."""


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best_of(systems: dict[str, System], query: str, repeats: int = REPEATS
            ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """One warm-up call per system (its result is kept for checking), then ``repeats``
    rounds; within a round the systems take turns, so a load change on a shared machine
    hits both alike. Returns per-system timings and warm-up results."""
    timings: dict[str, dict[str, Any]] = {}
    results: dict[str, Any] = {}
    for key, system in systems.items():
        warmup, results[key] = _timed(getattr(system, query))
        timings[key] = {"warmup_s": warmup, "times_s": []}
    for round_ in range(repeats):
        for key in _turns(systems, round_):
            timings[key]["times_s"].append(_timed(getattr(systems[key], query))[0])
    for timing in timings.values():
        timing["best_s"] = min(timing["times_s"])
    return timings, results


def _turns(systems: dict[str, System], round_: int) -> list[str]:
    """The systems in turn order, alternating who goes first from one round to the next."""
    keys = list(systems)
    return keys if round_ % 2 == 0 else keys[::-1]


def log_all(systems: dict[str, System], runs: list[RunData]) -> dict[str, dict[str, Any]]:
    """Log every run into every system, in interleaved blocks of ``LOG_BLOCK`` runs (so
    both systems log under the same machine load), printing progress every tenth."""
    seconds = dict.fromkeys(systems, 0.0)
    report_every = max(LOG_BLOCK, len(runs) // 10)
    for block, start in enumerate(range(0, len(runs), LOG_BLOCK)):
        chunk = runs[start:start + LOG_BLOCK]
        for key in _turns(systems, block):
            system = systems[key]
            seconds[key] += _timed(lambda s=system, c=chunk: [s.log(run) for run in c])[0]
        done = start + len(chunk)
        if done % report_every < LOG_BLOCK or done == len(runs):
            rates = ", ".join(f"{systems[k].label} {done / seconds[k]:7.1f}" for k in systems)
            print(f"  {done:>6}/{len(runs)} runs logged; runs/s: {rates}", file=sys.stderr,
                  flush=True)
    return {key: {"seconds": seconds[key], "runs_per_s": len(runs) / seconds[key],
                  "block_runs": LOG_BLOCK} for key in systems}


def _same_values(got: dict[str, Any], want: dict[str, Any], numeric: bool) -> bool:
    if numeric:
        return got.keys() == want.keys() and all(
            math.isclose(got[k], want[k], rel_tol=1e-12, abs_tol=1e-12) for k in want)
    return got == want


def check_contents(label: str, contents: dict[str, Any], runs: list[RunData]) -> None:
    """Every logged run came back with exactly its params and metrics, and its tags."""
    if len(contents) != len(runs):
        raise Mismatch(f"{label}: fetched {len(contents)} runs, logged {len(runs)}")
    for run in runs:
        got = contents.get(run.name)
        if got is None:
            raise Mismatch(f"{label}: run {run.name} missing from the full fetch")
        user_tags = {k: v for k, v in got.tags.items() if k in run.tags}
        if not (_same_values(got.params, run.params, numeric=False)
                and _same_values(got.metrics, run.metrics, numeric=True)
                and user_tags == run.tags):
            raise Mismatch(f"{label}: run {run.name} came back with other values than logged")


def expected_top(runs: list[RunData]) -> list[str]:
    """The top-100 computed in Python: the ground truth both systems must match."""
    hits = [r for r in runs if r.metrics["accuracy"] > 0.5 and r.params["max_depth"] == "5"]
    hits.sort(key=lambda r: r.metrics["accuracy"], reverse=True)
    return [r.name for r in hits[:TOP_K]]


def expected_pages(runs: list[RunData]) -> list[str]:
    ordered = sorted(runs, key=lambda r: r.metrics["accuracy"], reverse=True)
    return [r.name for r in ordered[:PAGES * PAGE_SIZE]]


def time_cli(home: Path) -> tuple[dict[str, Any], list[str]]:
    """``modelport runs list … --json`` once, in a fresh process, wall time."""
    cmd = [str(Path(sys.executable).parent / "modelport"), "runs", "list", "--filter", FILTER,
           "--order-by", ORDER_BY, "--limit", str(TOP_K), "--json"]
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    seconds, out = _timed(lambda: subprocess.run(cmd, env=env, capture_output=True, text=True,
                                                 check=False))
    if out.returncode != 0:
        raise Mismatch(f"modelport CLI failed ({out.returncode}): {out.stderr.strip()}")
    names = [run["name"] for run in json.loads(out.stdout)["runs"]]
    return {"seconds": seconds, "command": _shell(["modelport", *cmd[1:]])}, names


def _shell(args: list[str]) -> str:
    """A command line to paste: double quotes where an argument holds spaces or quotes."""
    def one(arg: str) -> str:
        if arg and not any(c in arg for c in " '\"$`\\"):
            return arg
        return f'"{arg}"' if not any(c in arg for c in '"$`\\') else shlex.quote(arg)
    return " ".join(one(arg) for arg in args)


def _compare(what: str, got: dict[str, list[str]], want: list[str], ordered: bool) -> None:
    for label, names in got.items():
        same = names == want if ordered else sorted(names) == sorted(want)
        if not same:
            raise Mismatch(f"{what}: {label} returned {len(names)} runs that differ from the "
                           f"expected {len(want)} (first: {names[:3]} vs {want[:3]})")


def _db_megabytes(db_path: Path) -> float:
    import sqlite3

    with sqlite3.connect(db_path) as conn:  # fold the WAL back in before measuring
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [db_path, *db_path.parent.glob(db_path.name + "-*")]
    return sum(f.stat().st_size for f in files if f.exists()) / 1e6


def run_benchmark(n_runs: int, seed: int, workdir: Path) -> dict[str, Any]:
    runs = make_runs(n_runs, seed)
    systems: dict[str, System] = {"mlflow": MlflowSystem(workdir / "mlflow"),
               "modelport": ModelportSystem(workdir / "modelport")}
    results: dict[str, dict[str, Any]] = {key: {} for key in systems}
    print(f"logging {n_runs} runs into each system, interleaved", file=sys.stderr, flush=True)
    for key, timing in log_all(systems, runs).items():
        results[key]["logging"] = timing
    answers: dict[str, dict[str, Any]] = {}
    for query in ("top", "fetch_all", "pages"):
        print(f"query {query}: 1 warm-up + best of {REPEATS}, interleaved", file=sys.stderr,
              flush=True)
        timings, answers[query] = best_of(systems, query)
        for key, timing in timings.items():
            results[key][QUERY_RESULTS[query]] = timing
    for key, system in systems.items():
        results[key]["db_mb"] = _db_megabytes(system.db_path)
    top = {systems[k].label: systems[k].names(v) for k, v in answers["top"].items()}
    pages = {systems[k].label: systems[k].names(v) for k, v in answers["pages"].items()}
    fetched = {systems[k].label: systems[k].contents(v) for k, v in answers["fetch_all"].items()}

    _compare("filtered top-100 search", top, expected_top(runs), ordered=False)
    _compare("first 10 pages of 100", pages, expected_pages(runs), ordered=True)
    for label, contents in fetched.items():
        check_contents(label, contents, runs)

    results["modelport"]["cli_top100"], cli_names = time_cli(workdir / "modelport")
    _compare("CLI top-100", {"modelport CLI": cli_names}, expected_top(runs), ordered=False)
    results["modelport"]["top100_matches"] = len(top["modelport"])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None,
                        help=f"runs to log into each system (default {DEFAULT_RUNS}, "
                             f"{QUICK_RUNS} with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a short run to iterate on; results go to benchmarks/tracking/work/, "
                             "not benchmarks/results/")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args(argv)
    n_runs = args.runs or (QUICK_RUNS if args.quick else DEFAULT_RUNS)

    if not _in_bench_venv():
        _bootstrap()  # does not return
    # MLflow reads these at import: no usage reporting from a benchmark
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")

    started = time.time()
    before = report.environment(REPO)
    with tempfile.TemporaryDirectory(prefix="modelport-bench-tracking-") as tmp:
        cwd = Path.cwd()
        os.chdir(tmp)  # anything a library drops in the working directory lands here
        try:
            results = run_benchmark(n_runs, args.seed, Path(tmp))
        finally:
            os.chdir(cwd)
    command = "python benchmarks/tracking/bench.py" + (" --quick" if args.quick else "") + (
        f" --runs {n_runs}" if args.runs else "")
    summary = report.build(results, n_runs=n_runs, seed=args.seed, command=command,
                           started=started, before=before, after=report.environment(REPO))
    if summary["code_changed_during_run"]:
        print("warning: modelport's code changed during the run (commit or uncommitted files "
              "under src/): the numbers mix two versions", file=sys.stderr)
    table = report.table(summary)
    print(table)
    out = HERE / "work" if args.quick else REPO / "benchmarks" / "results"
    report.write(summary, table, out, readme=None if args.quick else
                 REPO / "benchmarks" / "README.md")
    print(f"\nwrote {out.relative_to(REPO)}/tracking.json and tracking.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
