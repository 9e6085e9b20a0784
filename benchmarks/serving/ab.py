"""A/B of ``modelport serve`` itself: a baseline git revision against this checkout.

Why it exists: a change that is not about speed (hardening the HTTP server,
checking inputs, authenticating first) must not quietly slow the server
down; issue 15 allows it at most 3 % of the serving benchmark's numbers. The
peers are not needed for that question and the full benchmark's absolute
numbers move from day to day on this shared machine, so this script asks it
directly: the same models, the same requests, the same core, the two trees
taking turns round by round, and the ratio of each pair reported.

    python benchmarks/serving/ab.py [--base 7cb0e03] [--rounds 5] [--duration 5]
                                    [--python .venv/bin/python]

The baseline is checked out with ``git worktree`` into ``benchmarks/serving/work/``
and run by the same Python with ``PYTHONPATH`` pointing at its sources, so the
two sides differ only in modelport's own code. Each side registers the
benchmark's models (``prepare_models.py``) in its own home. Setup as in
``bench.py``: server pinned to core 0, wrk to core 1, single-row JSON, OIP v2
and ``/invocations`` at concurrency 1 and 32; each line reports the median of
the rounds, and the ratio is this tree over the baseline (> 1: faster now).
Besides requests/s, each side's CPU time per request (the server's processes'
utime + stime over the requests wrk counted): on a machine where other work
competes for the cores, requests/s moves with the competition, the CPU a
request costs much less — so both are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import loadgen
from procs import Endpoint, Fleet, Running, ServerSpec
from quiet import TICK, proc_ticks, tree

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = HERE / "work" / "ab"
CASES = (("v2", 1), ("v2", 32), ("invocations", 1), ("invocations", 32))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def checkout(base: str) -> Path:
    """The baseline's sources, in a git worktree of their own (made once per revision)."""
    tree = WORK / f"base-{base}"
    if not (tree / "src").exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), base],
                       check=True, capture_output=True)
    return tree


def side_env(tree: Path) -> dict[str, str]:
    return {"PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree / 'edge' / 'src'}"}


def prepare(python: str, tree: Path, name: str, root: Path = WORK
            ) -> tuple[Path, dict[str, Any]]:
    """Register the benchmark's models with ``tree``'s code in a home of its own."""
    work = root / name
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, str(HERE / "prepare_models.py"), str(work)], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, **side_env(tree)})
    return work, json.loads((work / "models" / "meta.json").read_text())


def bodies(row: list[float], root: Path = WORK) -> dict[str, Path]:
    docs = {"v2": {"inputs": [{"name": "input", "shape": [1, len(row)], "datatype": "FP32",
                               "data": row}]},
            "invocations": {"inputs": [row]}}
    out = {}
    for name, doc in docs.items():
        path = root / f"{name}.json"
        path.write_text(json.dumps(doc, separators=(",", ":")))
        out[name] = path
    return out


def spec(python: str, tree: Path, work: Path, name: str, body: dict[str, Path],
         extra: tuple[str, ...] = ()) -> ServerSpec:
    """``modelport serve lr`` of ``tree`` (``extra``: more options) on both routes."""
    endpoints = [Endpoint("v2", "/v2/models/lr/infer", body["v2"], None),
                 Endpoint("invocations", "/invocations", body["invocations"], None)]
    env = {**side_env(tree), "MODELPORT_HOME": str(work / "home")}
    return ServerSpec(name, name, [python, "-m", "modelport", "serve", "lr", "--port", "{port}",
                                 *extra],
                      endpoints, env=env)


def measure(running: Running, endpoint: Endpoint, connections: int, seconds: float
            ) -> tuple[float, float]:
    """One wrk run against a started server: requests/s and the server's CPU µs/request."""
    pids = set(tree(running.pid))
    ticks = proc_ticks(pids)
    result = loadgen.run(running.url(endpoint), endpoint.body, connections, seconds)
    if result.errors:
        raise RuntimeError(f"{running.spec.key} {endpoint.key} c={connections}: "
                           f"{result.errors} errors")
    return result.rps, (proc_ticks(pids) - ticks) / TICK * 1e6 / max(1, result.requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="7cb0e03", help="baseline git revision")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--python", default=sys.executable,
                        help="a Python with modelport's dependencies and its onnx extra")
    args = parser.parse_args(argv)
    loadgen_ok = subprocess.run(["which", "wrk"], capture_output=True).returncode == 0
    if not loadgen_ok:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    trees = {"base": checkout(args.base), "head": REPO}
    log(f"registering the models with each side's code (base {args.base}, head)")
    prepared = {name: prepare(args.python, tree, name) for name, tree in trees.items()}
    body = bodies(prepared["head"][1]["row"])
    specs = {name: spec(args.python, trees[name], prepared[name][0], name, body)
             for name in trees}
    rps: dict[str, dict[tuple[str, int], list[float]]] = {n: {c: [] for c in CASES}
                                                          for n in trees}
    cpu: dict[str, dict[tuple[str, int], list[float]]] = {n: {c: [] for c in CASES}
                                                          for n in trees}
    fleet = Fleet(WORK / "logs")
    try:
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                running = fleet.start(specs[name], f"{name}-{round_}")
                running.wait_ready(None)
                for endpoint in specs[name].endpoints:
                    loadgen.run(running.url(endpoint), endpoint.body, 8, 1.0)  # warm-up
                for key, c in CASES:
                    endpoint = next(e for e in specs[name].endpoints if e.key == key)
                    speed, used = measure(running, endpoint, c, args.duration)
                    rps[name][(key, c)].append(speed)
                    cpu[name][(key, c)].append(used)
                    log(f"round {round_ + 1} {name:<4} {key:<11} c={c:<2} {speed:>9,.0f} "
                        f"rps {used:6.1f} us CPU/request")
                fleet.stop(running)
    finally:
        fleet.stop_all()
    print(f"\n| case | base {args.base} rps | head rps | head ÷ base "
          "| base CPU µs/req | head CPU µs/req | base ÷ head |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for key, c in CASES:
        base, head = (statistics.median(rps[n][(key, c)]) for n in ("base", "head"))
        base_cpu, head_cpu = (statistics.median(cpu[n][(key, c)]) for n in ("base", "head"))
        print(f"| {key} c={c} | {base:,.0f} | {head:,.0f} | {head / base:.3f} "
              f"| {base_cpu:.1f} | {head_cpu:.1f} | {base_cpu / head_cpu:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
