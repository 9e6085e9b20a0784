"""Instructions per request of one worker's request handling alone: no socket, no timers.

``instructions.py`` counts a whole server, whose endpoint polling and statistics
timers run while it counts: under callgrind their share grows with wall time, so
on a loaded machine they move the count by several per cent. This counts only
``ServingApp.respond`` — routing, auth, the inference path, the protocol, the
model — called in a loop in a process with no background work (the models are
loaded directly, no companion or poller starts), with callgrind's
instrumentation switched on by the process itself around the loop: the same
code gives the same count whatever else the machine runs.

    python benchmarks/serving/respond_instructions.py [--base 390e4fb] [--requests 2000]

Needs valgrind. Uses ab.py's models, bodies and baseline checkout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ab import REPO, WORK, bodies, checkout, log, prepare, side_env
from instructions import PATHS

# run inside valgrind with one side's sources first on the path
INNER = r"""
import asyncio, os, subprocess, sys
from pathlib import Path
from typing import Any
from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request
from modelport.runtimes.serving.repository import Repository

home, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
paths = dict(arg.split("=", 1) for arg in sys.argv[4:])
repo = Repository(["lr"], ws=Workspace.open(Settings(home=Path(home))))
try:  # the InferenceService's tree; before it, the app took the repository itself
    from modelport.runtimes.serving.service import InferenceService
    app = ServingApp(InferenceService(repo))
except ImportError:
    app = ServingApp(repo)
repo.load_all()  # no startup(): it would start the background poller
pid = str(os.getpid())

def control(*args):
    subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)

async def run(path, body, count):
    for _ in range(count):
        request = Request("POST", path, {"content-type": "application/json",
                                         "content-length": str(len(body))}, body)
        response = await app.respond(request)
        assert response.status == 200, response.body

async def main():
    for key, spec in paths.items():
        path, file = spec.split("@", 1)
        body = Path(file).read_bytes()
        await run(path, body, 300)  # warm
        control("-z")
        control("-i", "on")
        await run(path, body, n)
        control("-i", "off")
        control("-d", key)

asyncio.run(main())
"""


def measure(python: str, tree: Path, home: Path, body: dict[str, Path], n: int
            ) -> dict[str, int]:
    out = Path(tempfile.mkdtemp(prefix="mp-cgr-"))
    args = [f"{key}={path}@{body[key]}" for key, path in PATHS.items()]
    env = {**os.environ, **side_env(tree), "MODELPORT_HOME": str(home)}
    subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no",
                    f"--callgrind-out-file={out}/cg.%p", python, "-c", INNER, str(home), str(n),
                    str(out), *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    # one numbered dump per path, in the order they ran (cg.PID.1, cg.PID.2, …)
    dumps = sorted((p for p in out.glob("cg.*.*")), key=lambda p: int(p.suffix[1:]))
    result = {}
    for key, dump in zip(PATHS, dumps, strict=True):
        total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                     if line.startswith("totals:"))
        result[key] = total // n
    return result


def _prepared(python: str, tree: Path, name: str) -> tuple[Path, dict[str, Any]]:
    """ab.py's models for one side, registered once (instructions.py may be using them)."""
    meta = WORK / name / "models" / "meta.json"
    if meta.exists():
        return WORK / name, json.loads(meta.read_text())
    return prepare(python, tree, name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="390e4fb", help="baseline git revision")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    trees = {"base": checkout(args.base), "head": REPO}
    prepared = {name: _prepared(args.python, tree, name) for name, tree in trees.items()}
    body = bodies(prepared["head"][1]["row"])
    counts = {}
    for name, tree in trees.items():
        counts[name] = measure(args.python, tree, prepared[name][0] / "home", body,
                               args.requests)
        log(f"{name}: {counts[name]}")
    print(f"\n| path | base {args.base} instructions/request (respond only) | head | "
          "head ÷ base |\n|---|---:|---:|---:|")
    for key in PATHS:
        base, head = counts["base"][key], counts["head"][key]
        print(f"| {key} | {base:,} | {head:,} | {head / base:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
