"""Instructions per request of ``modelport serve``: a baseline revision against this tree.

Why it exists: on a shared two-core machine requests/s and even CPU time per
request move with whatever else runs; the number of instructions the server
executes per request does not. Each side's server runs under callgrind with
instrumentation off until it is warm, then counts only while a client sends
``--requests`` pipelined requests (16 in flight on one connection), so start-up
and warm-up are left out. Timers (endpoint polling, statistics) still run, and
under callgrind's ~50× slowdown they add a share of noise (±1 %): sides
alternate and each reports its median.

    python benchmarks/serving/instructions.py [--base 7cb0e03] [--rounds 3]
                                              [--requests 3000] [--python .venv/bin/python]

Needs valgrind (apt-get install -y valgrind). Uses ab.py's models and baseline
checkout (``benchmarks/serving/work/ab``).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ab import REPO, WORK, bodies, checkout, log, prepare, side_env

PATHS = {"v2": "/v2/models/lr/infer", "invocations": "/invocations"}
DEPTH = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def send(port: int, path: str, body: bytes, n: int) -> None:
    """``n`` requests, ``DEPTH`` pipelined at a time; every answer must be a 200."""
    head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        buf, done = b"", 0
        while done < n:
            k = min(DEPTH, n - done)
            conn.sendall((head + body) * k)
            got = 0
            while got < k:
                status, sep, rest = buf.partition(b"\r\n\r\n")
                if sep:
                    length = next(int(line.split(b":")[1]) for line in status.split(b"\r\n")
                                  if line.lower().startswith(b"content-length"))
                    if len(rest) >= length:
                        if not status.startswith(b"HTTP/1.1 200"):
                            raise RuntimeError(status.decode("latin-1"))
                        buf, got = rest[length:], got + 1
                        continue
                buf += conn.recv(65536)
            done += k


def measure(python: str, tree: Path, home: Path, body: dict[str, Path], n: int
            ) -> dict[str, int]:
    """Instructions per request of one server of ``tree``, for each path."""
    out = Path(tempfile.mkdtemp(prefix="mp-cg-"))
    port = _free_port()
    env = {**os.environ, **side_env(tree), "MODELPORT_HOME": str(home)}
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no",
         f"--callgrind-out-file={out}/cg.%p", python, "-m", "modelport", "serve", "lr",
         "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    control = ["callgrind_control"]
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server under valgrind did not start") from None
                time.sleep(1)
        result = {}
        for key, path in PATHS.items():
            data = body[key].read_bytes()
            send(port, path, data, 200)  # warm
            pid = str(proc.pid)
            for args in (["-z"], ["-i", "on"]):
                subprocess.run([*control, *args, pid], check=True, capture_output=True)
            send(port, path, data, n)
            for args in (["-i", "off"], ["-d", key]):
                subprocess.run([*control, *args, pid], check=True, capture_output=True)
            time.sleep(1)
            dump = max(out.glob("cg.*"), key=lambda p: p.stat().st_mtime)
            total = next(int(line.split()[1]) for line in dump.read_text().splitlines()
                         if line.startswith("totals:"))
            result[key] = total // n
        return result
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="7cb0e03", help="baseline git revision")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    trees = {"base": checkout(args.base), "head": REPO}
    prepared = {name: prepare(args.python, tree, name) for name, tree in trees.items()}
    body = bodies(prepared["head"][1]["row"])
    counts: dict[str, dict[str, list[int]]] = {n: {k: [] for k in PATHS} for n in trees}
    for round_ in range(args.rounds):
        for name in (trees if round_ % 2 == 0 else reversed(list(trees))):
            got = measure(args.python, trees[name], prepared[name][0] / "home", body,
                          args.requests)
            for key, value in got.items():
                counts[name][key].append(value)
            log(f"round {round_ + 1} {name}: {got}")
    print(f"\n| path | base {args.base} instructions/request | head | head ÷ base |\n"
          "|---|---:|---:|---:|")
    for key in PATHS:
        base, head = (statistics.median(counts[n][key]) for n in ("base", "head"))
        print(f"| {key} | {base:,.0f} | {head:,.0f} | {head / base:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
