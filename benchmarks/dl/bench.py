"""Text classification at 32 concurrent clients: modelport vs the hand-written ceiling vs a
transformers pipeline server.

Why: a team serving a text classifier today writes its own tokenizers + onnxruntime
server, or wraps a ``transformers`` pipeline in a web app. modelport must come close to
the first (target: ≥ 90 % of its throughput — it checks, batches, counts and limits what
the ceiling does not) and far beat the second (target: ≥ 3×).

What: one small BERT (2 layers, hidden 64, WordPiece vocabulary of 200, built by
``prepare_peer.py`` in the peers' own virtualenv with torch and transformers), served
three ways on core 0 — ``modelport serve`` of the graph imported with its tokenizer.json;
``ceiling_app.py`` (tokenizers + onnxruntime on a bare ASGI app under uvicorn); and
``pipeline_app.py`` (``pipeline("text-classification")`` under uvicorn, torch on the CPU).
Every server answers the same OIP request (one text per request, 4 to 24 words) and is
first checked to give the same labels and scores (within 1e-4) on 16 texts. wrk drives
32 keep-alive connections from core 1; each server gets a warm-up, then ``--rounds``
measured runs taken in turns, and the median requests/s counts.

    python benchmarks/dl/bench.py [--duration 10] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "serving"))
import loadgen  # noqa: E402

PEERS = HERE / ".venv-peers"
WORK = HERE / "work"
RESULTS = ROOT / "benchmarks" / "results"
PEER_PACKAGES = ["torch==2.13.0", "transformers", "uvicorn", "onnx"]
CONNECTIONS = 32
SERVER_CORE = "0"


def peer_python() -> Path:
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def prepare(peer: Path) -> None:
    if not (WORK / "reviews.onnx").exists():
        subprocess.run([str(peer), str(HERE / "prepare_peer.py"), str(WORK)], check=True)
    home = WORK / "home"
    if not home.exists():
        subprocess.run([sys.executable, "-m", "modelport", "models", "import",
                        str(WORK / "reviews.onnx"), "--name", "reviews", "--tokenizer",
                        str(WORK / "tokenizer.json"), "--labels", str(WORK / "labels.txt")],
                       check=True, env={**os.environ, "MODELPORT_HOME": str(home)})


def texts(n: int, seed: int) -> list[str]:
    words = ["good", "great", "fine", "happy", "bad", "awful", "sad", "poor", "the", "movie",
             "was", "very", "really", "plot", "actors", "not", "acting", "story"]
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words, size=int(rng.integers(4, 24)))) for _ in range(n)]


def body(batch: list[str]) -> bytes:
    return json.dumps({"inputs": [{"name": "text", "datatype": "BYTES",
                                   "shape": [len(batch)], "data": batch}]}).encode()


def servers(peer: Path) -> dict[str, dict[str, Any]]:
    env = {**os.environ, "DL_MODEL_DIR": str(WORK), "PYTHONPATH": os.pathsep.join(
        [str(HERE), os.environ.get("PYTHONPATH", "")])}
    uvicorn = ["-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level",
               "warning"]
    return {
        "modelport": {"cmd": [sys.executable, "-m", "modelport", "serve", "reviews",
                              "--host", "127.0.0.1", "--no-access-log"],
                      "port_flag": "--port", "env": {**env, "MODELPORT_HOME":
                                                     str(WORK / "home")},
                      "path": "/v2/models/reviews/infer"},
        "ceiling": {"cmd": [sys.executable, *uvicorn, "ceiling_app:app"], "port_flag": "--port",
                    "env": env, "path": "/"},
        "pipeline": {"cmd": [str(peer), *uvicorn, "pipeline_app:app"], "port_flag": "--port",
                     "env": env, "path": "/"},
    }


def start(spec: dict[str, Any], port: int) -> subprocess.Popen[bytes]:
    log = open(WORK / f"server-{port}.log", "wb")  # noqa: SIM115 — the server's lifetime
    return subprocess.Popen(["taskset", "-c", SERVER_CORE, *spec["cmd"], spec["port_flag"],
                             str(port)], env=spec["env"], cwd=HERE, stdout=log, stderr=log,
                            start_new_session=True)


def post(url: str, data: bytes) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            post(url, body(["good movie"]))
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def answers(doc: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    out = {o["name"]: o for o in doc["outputs"]}
    proba = np.reshape(out["probabilities"]["data"], (len(out["prediction"]["data"]), -1))
    return out["prediction"]["data"], proba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    duration, rounds = (3, 1) if args.quick else (args.duration, args.rounds)
    peer = peer_python()
    prepare(peer)
    check = body(texts(16, seed=1))
    load_body = WORK / "body.json"
    load_body.write_bytes(body(texts(1, seed=2)))
    load_start = os.getloadavg()
    rps: dict[str, list[float]] = {}
    runs: dict[str, list[dict[str, Any]]] = {}
    reference: tuple[list[str], np.ndarray] | None = None
    for round_ in range(rounds):
        for i, (name, spec) in enumerate(servers(peer).items()):
            port = 18800 + i
            proc = start(spec, port)
            try:
                url = f"http://127.0.0.1:{port}{spec['path']}"
                wait_ready(url, proc)
                labels, proba = answers(post(url, check))
                if reference is None:
                    reference = (labels, proba)
                assert labels == reference[0], f"{name} answers other labels"
                assert np.allclose(proba, reference[1], atol=1e-4), f"{name}: other scores"
                loadgen.run(url, load_body, CONNECTIONS, min(3, duration))  # warm-up
                result = loadgen.run(url, load_body, CONNECTIONS, duration)
                assert result.errors == 0, f"{name}: {result.errors} errors"
                rps.setdefault(name, []).append(result.rps)
                runs.setdefault(name, []).append(result.to_dict())
                print(f"round {round_ + 1} {name}: {result.rps:,.0f} req/s, "
                      f"p99 {result.p99_ms:.1f} ms", flush=True)
            finally:
                stop(proc)
    load_end = os.getloadavg()
    report(rps, runs, duration, rounds, load_start, load_end, args.quick)


def report(rps: dict[str, list[float]], runs: dict[str, list[dict[str, Any]]], duration: float,
           rounds: int, load_start: tuple[float, ...], load_end: tuple[float, ...],
           quick: bool) -> None:
    median = {k: statistics.median(v) for k, v in rps.items()}
    p99 = {k: statistics.median(r["p99_ms"] for r in v) for k, v in runs.items()}
    of_ceiling = median["modelport"] / median["ceiling"]
    over_pipeline = median["modelport"] / median["pipeline"]
    record = {"date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(),
              "python": sys.version.split()[0], "wrk": loadgen.version(),
              "connections": CONNECTIONS, "duration_s": duration, "rounds": rounds,
              "load_start": load_start, "load_end": load_end, "median_rps": median,
              "p99_ms": p99, "modelport_of_ceiling": of_ceiling,
              "modelport_over_pipeline": over_pipeline, "runs": runs, "quick": quick}
    lines = [
        f"{record['date']}, {record['cpus']} CPUs, Python {record['python']}, "
        f"{record['wrk']}; one small BERT (2 layers, hidden 64), one text per request, "
        f"{CONNECTIONS} connections, servers on core 0, wrk on core 1, median of {rounds} "
        f"× {duration:g} s; 1-minute load average {load_start[0]:.1f} at the start, "
        f"{load_end[0]:.1f} at the end.", "",
        "| server | requests/s | p99 (ms) | modelport ÷ it |", "|---|---:|---:|---:|"]
    for name, label in (("modelport", "modelport serve (imported ONNX + tokenizer.json)"),
                        ("ceiling", "hand-written tokenizers + onnxruntime on uvicorn"),
                        ("pipeline", "transformers pipeline on uvicorn (torch)")):
        ratio = median["modelport"] / median[name]
        lines.append(f"| {label} | {median[name]:,.0f} | {p99[name]:.1f} | {ratio:.2f}× |")
    lines += ["", f"modelport reaches {of_ceiling:.0%} of the ceiling (target ≥ 90 %) and "
                  f"{over_pipeline:.1f}× the pipeline server (target ≥ 3×)."]
    text = "\n".join(lines) + "\n"
    target = RESULTS if not quick else WORK
    target.mkdir(parents=True, exist_ok=True)
    (target / "dl.json").write_text(json.dumps(record, indent=2))
    (target / "dl.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
