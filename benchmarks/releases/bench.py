"""What a release costs: routing an endpoint between two versions, and how fast a
rollback lands.

Issue 6 promises that serving an endpoint with a two-version policy costs at
most 5 % of the requests per second of serving one model directly, and that a
rollback takes effect in every worker within one second. Both are measured
here in one run on this machine: the server pinned to core 0, wrk on core 1,
the two set-ups interleaved so drift hits both alike.

    python benchmarks/releases/bench.py [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
BODY = {"inputs": [{"name": "input", "shape": [1, 20], "datatype": "FP32",
                    "data": [0.1 * i for i in range(20)]}]}
LUA = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(home: Path) -> None:
    """Two LogisticRegression versions on 20 features, both with a checked ONNX copy."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import modelport

    ws = modelport.Workspace.open(modelport.Settings(home=home))
    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(20)])
    for c in (1.0, 0.5):
        v = modelport.register_model("lr", LogisticRegression(C=c).fit(frame, y), X=frame,
                                     ws=ws)
        modelport.export_onnx(v.ref, ws=ws)
    modelport.create_endpoint("ep", "lr:1", ws=ws)


class Server:
    def __init__(self, home: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, "-m", "modelport", "serve", *args,
             "--port", str(self.port)],
            env={**os.environ, "MODELPORT_HOME": str(home)}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def wrk(url: str, duration: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}",
                          f"-d{duration}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {"rps": rps, "errors": float(non2xx[1]) if non2xx else 0.0,
            "p99_ms": float(p99[1]) * scale[p99[2]] if p99 else float("nan")}


def routing_cost(home: Path, duration: int, rounds: int) -> dict[str, Any]:
    """Best-of-rounds rps: the model directly vs the endpoint split 50/50 over two versions."""
    import modelport
    from modelport.lifecycle.endpoints import Policy, Route

    ws = modelport.Workspace.open(modelport.Settings(home=home))
    modelport.set_policy("ep", Policy([Route("lr:1", 50), Route("lr:2", 50)]), ws=ws)
    script = home.parent / "post.lua"
    script.write_text(LUA % json.dumps(BODY))
    runs: dict[str, list[dict[str, float]]] = {"model": [], "endpoint": []}
    for _ in range(rounds):
        for kind, ref, path in (("model", "lr:1", "/v2/models/lr/infer"),
                                ("endpoint", "ep", "/v2/models/ep/infer")):
            server = Server(home, ref, "--no-controller")
            try:
                wrk(server.url + path, 2, 32, script)  # warm-up
                runs[kind].append(wrk(server.url + path, duration, 32, script))
            finally:
                server.stop()
    best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
    return {"runs": runs, "best": best,
            "ratio": best["endpoint"]["rps"] / best["model"]["rps"]}


def rollback_latency(home: Path, trials: int) -> dict[str, Any]:
    """Time from a rollback's commit to the last answer from the version rolled back."""
    import modelport
    from modelport.control import rollout as ro
    from modelport.lifecycle.endpoints import Policy

    ws = modelport.Workspace.open(modelport.Settings(home=home))
    modelport.set_policy("ep", Policy.single("lr:1"), ws=ws)
    server = Server(home, "ep", "--workers", "2")
    seen: list[tuple[float, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                r = client.post("/v2/models/ep/infer", json=BODY)
                seen.append((time.time(), r.headers.get("x-model-version", "")))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    delays = []
    try:
        for _ in range(trials):
            ro.start_bluegreen("ep", "lr:2", grace_s=300, ws=ws)
            while ro.latest_rollout("ep", ws=ws).state != "switched":
                time.sleep(0.05)
            time.sleep(1.0)
            at = ro.rollback("ep", ws=ws).updated
            time.sleep(2.0)
            last_old = max((t for t, v in seen if v == "lr:2"), default=at)
            delays.append(max(0.0, last_old - at))
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    return {"trials": delays, "max_s": max(delays), "median_s": statistics.median(delays),
            "workers": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        prepare(home)
        cost = routing_cost(home, args.duration, args.rounds)
        rollback = rollback_latency(home, args.trials)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version()},
        "routing": cost, "rollback": rollback}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "releases.json").write_text(json.dumps(result, indent=2))
    m, e = cost["best"]["model"], cost["best"]["endpoint"]
    table = "\n".join([
        f"Releases — {result['date']}, server on one core, wrk c=32 on the other, "
        f"best of {args.rounds} × {args.duration} s",
        "",
        "| measure | value | target | met |",
        "|---|---|---|---|",
        f"| one model directly: rps / p99 | {m['rps']:,.0f} / {m['p99_ms']:.2f} ms | | |",
        f"| endpoint, 50/50 over two versions: rps / p99 | {e['rps']:,.0f} / "
        f"{e['p99_ms']:.2f} ms | | |",
        f"| endpoint ÷ direct rps | {cost['ratio']:.1%} | ≥ 95 % | "
        f"{'yes' if cost['ratio'] >= 0.95 else 'no'} |",
        f"| rollback landed in every worker (2 workers, {args.trials} trials): max / median |"
        f" {rollback['max_s'] * 1000:.0f} / {rollback['median_s'] * 1000:.0f} ms | < 1 s | "
        f"{'yes' if rollback['max_s'] < 1 else 'no'} |",
        f"| errors (non-2xx) | {int(m['errors'] + e['errors'])} | 0 | "
        f"{'yes' if m['errors'] + e['errors'] == 0 else 'no'} |",
    ])
    (RESULTS / "releases.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
