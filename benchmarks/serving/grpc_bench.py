"""OIP gRPC side by side: modelport's gRPC and HTTP, and MLServer's gRPC, on one core.

Issue 17's target: ``modelport serve --grpc-port`` answers at least 5× MLServer's
gRPC throughput at concurrency 32 on one core, for a LogisticRegression and a
random forest (the serving benchmark's models, ``prepare_models.py``: the same
fitted objects for both servers). modelport's own REST (OIP v2 JSON, wrk) is
measured beside it, so the table also says what gRPC costs against HTTP here.

    python benchmarks/serving/grpc_bench.py [--duration 5] [--rounds 3]

Load comes from ``h2load`` (Debian's ``nghttp2-client``), a C HTTP/2 load
generator, sending one ready-made gRPC message (a 5-byte frame header and a
``ModelInferRequest`` of one row, raw FP32 contents, as ``tritonclient``
sends) on 32 connections, one stream each: a Python gRPC client would be the
bottleneck long before either server. h2load counts HTTP statuses, and a gRPC
error still comes back as HTTP 200, so every server's answer to the same
message is decoded and checked first (the label it gives). MLServer 1.7 is
installed by this script into its own virtualenv (``/tmp/bench-mlserver``,
``mlserver`` + ``mlserver-sklearn``, never a modelport dependency), one
worker (``parallel_workers: 0``), its HTTP and metrics ports unused. Servers
are pinned to core 0, h2load and wrk to core 1; sides take turns round by
round; each row is the median. Besides requests/s, each server's CPU time per
request (utime + stime of its processes over the requests counted), which
moves much less than requests/s when other work competes for the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import loadgen
import numpy as np
from procs import SERVER_CORE, Endpoint, Fleet, Running, ServerSpec, free_port
from quiet import TICK, proc_ticks, tree

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORK = HERE / "work" / "grpc"
MLSERVER_VENV = Path("/tmp/bench-mlserver")
MLSERVER = ("mlserver==1.7.1", "mlserver-sklearn==1.7.1")
LOAD_CORE = "1"
CONCURRENCY = 32
MODELS = ("lr", "forest")

sys.path.insert(0, str(REPO / "src"))
from modelport.runtimes.serving.protocols.grpc_messages import SERVICE, TYPES  # noqa: E402


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def mlserver_python() -> Path:
    python = MLSERVER_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import mlserver_sklearn"], capture_output=True)
    if probe.returncode != 0:
        log("installing MLServer into its own virtualenv")
        subprocess.run([str(python), "-m", "pip", "install", "-q", *MLSERVER], check=True)
    return python


def prepare() -> tuple[Path, dict[str, Any]]:
    """The benchmark's models: registered in a modelport home, pickled for MLServer."""
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(HERE / "prepare_models.py"), str(WORK)], check=True,
                   stdout=subprocess.DEVNULL)
    return WORK, json.loads((WORK / "models" / "meta.json").read_text())


def mlserver_repo(python: Path) -> Path:
    """A model repository MLServer's scikit-learn runtime loads (joblib files)."""
    repo = WORK / "mlserver"
    for name in MODELS:
        folder = repo / name
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-c", "import joblib, pickle, sys; "
                        "joblib.dump(pickle.load(open(sys.argv[1], 'rb')), sys.argv[2])",
                        str(WORK / "models" / f"{name}.pkl"), str(folder / "model.joblib")],
                       check=True)
        (folder / "model-settings.json").write_text(json.dumps({
            "name": name, "implementation": "mlserver_sklearn.SKLearnModel",
            "parameters": {"uri": "./model.joblib"}}))
    return repo


def message(model: str, row: list[float]) -> bytes:
    """One gRPC frame: not compressed, its length, a ModelInferRequest of one raw row."""
    request = TYPES["ModelInferRequest"](model_name=model)
    request.inputs.add(name="input", datatype="FP32", shape=[1, len(row)])
    request.raw_input_contents.append(np.asarray(row, dtype="<f4").tobytes())
    body = request.SerializeToString()
    return struct.pack(">BI", 0, len(body)) + body


def label_over_grpc(port: int, model: str, row: list[float]) -> int:
    """The label the server at ``port`` gives the benchmark's row (raises on a gRPC error)."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(f"/{SERVICE}/ModelInfer",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=TYPES["ModelInferResponse"].FromString)
        request = TYPES["ModelInferRequest"].FromString(message(model, row)[5:])
        deadline = time.monotonic() + 120
        while True:
            try:
                response = call(request, timeout=5)
                break
            except grpc.RpcError as exc:
                if time.monotonic() > deadline or exc.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                time.sleep(0.5)
    outputs = [o.name for o in response.outputs]
    first = outputs.index("prediction") if "prediction" in outputs else 0
    datatype = response.outputs[first].datatype
    dtype = {"INT64": "<i8", "INT32": "<i4", "FP64": "<f8", "FP32": "<f4"}[datatype]
    return int(np.frombuffer(response.raw_output_contents[first], dtype=dtype)[0])


def h2load(port: int, body: Path, seconds: float) -> tuple[float, int, int]:
    """(requests/s, requests done, requests failed) of ``seconds`` of load on ModelInfer."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CORE, "h2load", "-c", str(CONCURRENCY), "-m", "1", "-t", "1",
         "-D", f"{seconds:g}", "--warm-up-time", "1", "-d", str(body),
         "-H", "content-type: application/grpc", "-H", "te: trailers",
         f"http://127.0.0.1:{port}/{SERVICE}/ModelInfer"],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"finished in [\d.]+\w*, ([\d.]+) req/s", out).group(1))  # type: ignore[union-attr]
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, "
                     r"(\d+) failed, (\d+) errored", out)
    assert done is not None, out
    return rps, int(done.group(2)), int(done.group(3)) + int(done.group(4))


def specs(meta_row: list[float], mlserver: Path) -> dict[str, ServerSpec]:
    env = {"MODELPORT_HOME": str(WORK / "home")}
    v2 = WORK / "v2.json"
    v2.write_text(json.dumps({"inputs": [{"name": "input", "shape": [1, len(meta_row)],
                                          "datatype": "FP32", "data": meta_row}]}))
    return {
        "modelport": ServerSpec(
            "modelport", "modelport", [sys.executable, "-m", "modelport", "serve", *MODELS,
                                       "--port", "{port}", "--grpc-port", "{grpc}"],
            [Endpoint(m, f"/v2/models/{m}/infer", v2, None) for m in MODELS], env=env),
        "mlserver": ServerSpec(
            "mlserver", "MLServer 1.7.1", [str(mlserver.parent / "mlserver"), "start",
                                           str(WORK / "mlserver")],
            [], env={"MLSERVER_GRPC_PORT": "{grpc}", "MLSERVER_HTTP_PORT": "{http}",
                     "MLSERVER_METRICS_PORT": "{metrics}", "MLSERVER_PARALLEL_WORKERS": "0",
                     "MLSERVER_LOAD_MODELS_AT_STARTUP": "true"}),
    }


def start(fleet: Fleet, spec: ServerSpec, tag: str) -> tuple[Running, int]:
    """``spec`` started with a gRPC port (and HTTP and metrics ports for MLServer's
    environment) of its own."""
    grpc_port = free_port()
    fill = {"{grpc}": str(grpc_port), "{http}": str(free_port()),
            "{metrics}": str(free_port())}

    def filled(text: str) -> str:
        for k, v in fill.items():
            text = text.replace(k, v)
        return text
    concrete = ServerSpec(spec.key, spec.label, [filled(a) for a in spec.argv], spec.endpoints,
                          env={k: filled(v) for k, v in spec.env.items()})
    return fleet.start(concrete, tag), grpc_port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load run")
    args = parser.parse_args(argv)
    for tool, package in (("h2load", "nghttp2-client"), ("wrk", "wrk")):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            raise SystemExit(f"{tool} is missing: apt-get install -y {package}")
    mlserver = mlserver_python()
    _, meta = prepare()
    mlserver_repo(mlserver)
    row = meta["row"]
    bodies = {}
    for model in MODELS:
        bodies[model] = WORK / f"{model}.grpc"
        bodies[model].write_bytes(message(model, row))
    sides = specs(row, mlserver)
    results: dict[tuple[str, str], dict[str, list[float]]] = {}
    fleet = Fleet(WORK / "logs")
    try:
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:
                running, grpc_port = start(fleet, sides[name], f"{name}-{round_}")
                for model in MODELS:
                    expected = meta["models"][model]["expected_label"]
                    got = label_over_grpc(grpc_port, model, row)
                    if got != expected:
                        raise RuntimeError(f"{name} {model}: label {got}, expected {expected}")
                    cases: list[tuple[str, Any, tuple[Any, ...]]] = [
                        ("grpc", h2load, (grpc_port, bodies[model], args.duration))]
                    if name == "modelport":
                        endpoint = next(e for e in sides[name].endpoints if e.key == model)
                        cases.append(("rest", _wrk, (running, endpoint, args.duration)))
                    for transport, run, run_args in cases:
                        pids = set(tree(running.pid))
                        ticks = proc_ticks(pids)
                        rps, done, failed = run(*run_args)
                        if failed:
                            raise RuntimeError(f"{name} {model} {transport}: {failed} failed")
                        used = (proc_ticks(pids) - ticks) / TICK * 1e6 / max(1, done)
                        entry = results.setdefault((f"{name} {transport}", model),
                                                   {"rps": [], "cpu": []})
                        entry["rps"].append(rps)
                        entry["cpu"].append(used)
                        log(f"round {round_ + 1} {name:<9} {transport:<4} {model:<6} "
                            f"{rps:>9,.0f} rps {used:7.1f} us CPU/request")
                fleet.stop(running)
    finally:
        fleet.stop_all()
    report(results, args)
    return 0


def _wrk(running: Running, endpoint: Endpoint, seconds: float) -> tuple[float, int, int]:
    loadgen.run(running.url(endpoint), endpoint.body, 8, 1.0)  # warm-up
    result = loadgen.run(running.url(endpoint), endpoint.body, CONCURRENCY, seconds)
    return result.rps, result.requests, result.errors


def report(results: dict[tuple[str, str], dict[str, list[float]]], args: Any) -> None:
    load = os.getloadavg()[0]
    lines = [f"OIP gRPC, c={CONCURRENCY}, server on core {SERVER_CORE}, load on core "
             f"{LOAD_CORE}; median of {args.rounds} rounds × {args.duration:g} s; "
             f"load average at the end {load:.2f}", "",
             "| model | server | rps | CPU µs/req | × MLServer gRPC (rps) |",
             "|---|---|---:|---:|---:|"]
    out: dict[str, Any] = {}
    for model in MODELS:
        peer = statistics.median(results[("mlserver grpc", model)]["rps"])
        for side in ("modelport grpc", "modelport rest", "mlserver grpc"):
            entry = results[(side, model)]
            rps, cpu = statistics.median(entry["rps"]), statistics.median(entry["cpu"])
            out[f"{model} {side}"] = {"rps": rps, "cpu_us": cpu, "vs_mlserver": rps / peer}
            lines.append(f"| {model} | {side} | {rps:,.0f} | {cpu:.1f} | {rps / peer:.2f} |")
    text = "\n".join(lines)
    print(text)
    results_dir = REPO / "benchmarks" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "grpc.json").write_text(json.dumps(out, indent=2))
    (results_dir / "grpc.md").write_text(text + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
