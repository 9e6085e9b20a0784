"""Team server benchmark: ``modelport server`` against MLflow's tracking server, in one run.

Why it exists: teams meet a platform through its shared server, and MLflow's
tracking server is the one they run first. The issue's targets: ≥ 10× MLflow
on logging runs, a filtered ordered top-100 search, fetching every run and
registering versions (one by one, by 8 clients at once, and — a training job's
many models — 1,000 in one batch call, which MLflow can only send one by one);
auth on within 1.2× of auth off in latency (MLflow's basic-auth is reported at
40–90×); at most half MLflow's resident memory.

Both servers run on the same PostgreSQL (a fresh database each, dropped
afterwards) and then on SQLite, one worker process each, one after the
other (never at once), and are driven by the same HTTP client over one
keep-alive connection — see clients.py.

    python benchmarks/server/bench.py [--runs 10000] [--versions 1000] [--quick] [--hog 2]

Beside the two servers, a third that does no work (``null_server.py``) is timed
with the same client: the floor under every one-request-per-call row. ``--hog N``
runs N busy processes beside everything (the loaded-machine run).

MLflow comes from its own virtualenv (``--mlflow-venv``, built on first use
with pip), never from modelport's dependencies.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from clients import Client, MlflowClient, ModelportClient

from servers import Server, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent / "tracking"))
from systems import make_runs  # noqa: E402  (the tracking benchmark's seeded runs)

MLFLOW_REQUIREMENT = "mlflow[auth]==3.17.*"  # [auth]: its basic-auth app needs Flask-WTF
PG_ADMIN = os.environ.get("MODELPORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
LATENCY_CALLS = 1000
REPEATS = 5
BLOCKS = 10  # auth off and on are measured in turn, this many blocks each
CLIENTS = 8  # registering at once (a CI fleet), each over its own connection
FLOOR_CALLS = 2000  # requests timed against the server that does nothing
BATCH = 1000  # versions a batch registration sends (the server's limit, MAX_BATCH)
MLFLOW_ADMIN = b"bench-Admin-2026"


def ensure_mlflow(venv: Path) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import mlflow, psycopg, flask_wtf"]
    if not python.exists() or subprocess.run(probe, capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", MLFLOW_REQUIREMENT,
                        "psycopg[binary]"], check=True)
    return venv / "bin" / "mlflow"


@contextmanager
def database(kind: str, workdir: Path, side: str) -> Iterator[str]:
    """A fresh database for one side (a SQLAlchemy URL), removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'{side}.db'}"
        return
    name = f"bench_{side.lower()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def modelport_server(db: str, home: Path, auth: bool) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "modelport", "server", "--db", db, "--port", str(port),
            "--auth", "on" if auth else "off"]
    return Server("modelport", argv, f"http://127.0.0.1:{port}", "/readyz",
                  env={"MODELPORT_HOME": str(home)})


def mlflow_server(mlflow: Path, db: str, workdir: Path, auth: bool) -> Server:
    port = free_port()
    argv = [str(mlflow), "server", "--backend-store-uri", db, "--port", str(port),
            "--host", "127.0.0.1", "--workers", "1",
            "--default-artifact-root", str(workdir / "mlflow-artifacts")]
    env = {}
    if auth:
        argv += ["--app-name", "basic-auth"]
        ini = workdir / "basic_auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = sqlite:///{workdir / 'mlflow-auth.db'}\n"
                       f"admin_username = admin\nadmin_password = {MLFLOW_ADMIN.decode()}\n"
                       "authorization_function = "
                       "mlflow.server.auth:authenticate_request_basic_auth\n")
        env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini),
               "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex}
    return Server("MLflow", argv, f"http://127.0.0.1:{port}", "/health", env=env)


@contextmanager
def hogs(n: int) -> Iterator[None]:
    """``n`` processes spinning on a core each while the benchmark runs: the lead must
    hold on a loaded machine, not only on an idle one."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def null_server() -> Server:
    port = free_port()
    return Server("null", [sys.executable, str(HERE / "null_server.py"), str(port)],
                  f"http://127.0.0.1:{port}", "/readyz")


def request_floor_ms(workdir: Path, run_id: str, calls: int) -> float:
    """Median ms of one registration request answered by a server doing no work
    (``null_server.py``), over the benchmark's own client: the least any server's
    one-per-request row can cost."""
    server = null_server()
    server.start(workdir / "null.log")
    client = ModelportClient(server.url)
    try:
        for i in range(100):
            client.register(run_id, i)
        samples = []
        for i in range(calls):
            start = time.perf_counter()
            client.register(run_id, i)
            samples.append(time.perf_counter() - start)
        return round(statistics.median(samples) * 1000, 3)
    finally:
        client.close()
        server.stop()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def best(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """The fastest of ``repeats`` calls (the least disturbed on a shared machine)."""
    runs = [timed(fn) for _ in range(repeats)]
    return min(t for t, _ in runs), runs[0][1]


def latency_samples(client: Client, run_id: str, calls: int) -> list[float]:
    """Seconds per fetch of one run, ``calls`` times."""
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        client.get(run_id)  # type: ignore[attr-defined]
        samples.append(time.perf_counter() - start)
    return samples


def latency_ms(client: Client, run_id: str, calls: int) -> float:
    """Median latency of fetching one run, in ms."""
    return statistics.median(latency_samples(client, run_id, calls)) * 1000


def workload(client: Any, server: Server, runs: list[Any], versions: int,
             calls: int) -> dict[str, Any]:
    out: dict[str, Any] = {"rss_fresh_mb": round(server.rss_mb(), 1)}
    client.setup()
    ids: list[str] = []
    seconds, _ = timed(lambda: [ids.append(client.log(r.name, r.params, r.metrics, r.tags))
                                for r in runs])
    out["log_runs_per_s"] = round(len(runs) / seconds, 1)
    seconds, top = best(client.top)
    out["top100_ms"], out["top100"] = round(seconds * 1000, 2), top
    seconds, every = best(client.fetch_all, 3)
    out["fetch_all_s"], out["fetched"] = round(seconds, 3), len(every)
    seconds, _ = timed(lambda: [client.register(ids[i % len(ids)], i) for i in range(versions)])
    out["register_per_s"] = round(versions / seconds, 1)
    rate, failed = register_concurrently(client, ids, versions)
    out["register_concurrent_per_s"], out["register_concurrent_failed"] = round(rate, 1), failed
    batch = [ids[i % len(ids)] for i in range(versions)]  # numbered after the ones above
    seconds, _ = timed(lambda: [client.register_batch(batch[k:k + BATCH], 2 * versions + k)
                                for k in range(0, versions, BATCH)])
    out["register_batch_per_s"] = round(versions / seconds, 1)
    time.sleep(2)
    out["rss_rest_mb"] = round(server.rss_mb(), 1)
    out["run_id"] = ids[0]
    return out


def register_concurrently(client: Any, ids: list[str], versions: int) -> tuple[float, int]:
    """Versions per second registered by ``CLIENTS`` clients at once, each on its own
    keep-alive connection (``versions`` in all, numbered after the sequential ones): a
    durable commit each, which a database may flush together (PostgreSQL's group commit).
    Also how many registrations failed (an error answer): they do not count."""
    each = max(1, versions // CLIENTS)
    clients = [type(client)(str(client.http.base_url)) for _ in range(CLIENTS)]
    start = threading.Barrier(CLIENTS + 1)
    failed: list[str] = []

    def register(k: int) -> None:
        start.wait()
        for i in range(each):
            number = versions + k * each + i
            try:
                clients[k].register(ids[number % len(ids)], number)
            except RuntimeError as exc:
                failed.append(str(exc))

    workers = [threading.Thread(target=register, args=(k,)) for k in range(CLIENTS)]
    try:
        for worker in workers:
            worker.start()
        start.wait()
        began = time.perf_counter()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - began
        if failed:
            print(f"  {len(failed)} concurrent registrations failed, e.g. {failed[0][:200]}",
                  flush=True)
        return (CLIENTS * each - len(failed)) / seconds, len(failed)
    finally:
        for c in clients:
            c.close()


def auth_latencies(off: Server, on: Server, logdir: Path, run_id: str,
                   headers: Callable[[Path], dict[str, str]], calls: int
                   ) -> tuple[float | str, float | str]:
    """Median latency of one run fetch with auth off and with auth on (credentials from
    ``headers``, given the auth server's log), in ms.

    Both servers run at once, fresh, and are asked in turn, ``BLOCKS`` blocks each, so
    a shared machine's load drifting during the measurement weighs on both alike — one
    measured after the other once compared two different machines."""
    samples: dict[str, list[float]] = {"off": [], "on": []}
    clients: dict[str, Client] = {}
    try:
        for label, server in (("off", off), ("on", on)):
            log = logdir / f"auth-{label}.log"
            try:
                server.start(log)
            except RuntimeError as exc:
                return (f"did not start: {str(exc).splitlines()[0][:200]}",) * 2  # type: ignore[return-value]
            kind = ModelportClient if server.label == "modelport" else MlflowClient
            clients[label] = kind(server.url, headers(log) if label == "on" else {})
        for _ in range(BLOCKS):
            for label, client in clients.items():
                samples[label] += latency_samples(client, run_id, max(1, calls // BLOCKS))
        return (round(statistics.median(samples["off"]) * 1000, 3),
                round(statistics.median(samples["on"]) * 1000, 3))
    finally:
        for client in clients.values():
            client.close()
        off.stop()
        on.stop()


def admin_key(log: Path) -> dict[str, str]:
    """The bootstrap admin key the server printed once."""
    lines = log.read_text().splitlines()
    secret = next(line.strip() for line in lines if line.strip().startswith("mp_"))
    return {"Authorization": f"Bearer {secret}"}


def basic_auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(b"admin:" + MLFLOW_ADMIN).decode()}


def one_backend(kind: str, mlflow: Path, workdir: Path, runs: list[Any],
                versions: int, calls: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for side in ("modelport", "MLflow"):
        with database(kind, workdir, side) as db:
            home = workdir / f"{kind}-{side}"
            home.mkdir()
            server = modelport_server(db, home, auth=False) if side == "modelport" else \
                mlflow_server(mlflow, db, home, auth=False)
            server.start(home / "server.log")
            client = (ModelportClient if side == "modelport" else MlflowClient)(server.url)
            try:
                result[side] = workload(client, server, runs, versions, calls)
            finally:
                client.close()
                server.stop()
            run_id = result[side]["run_id"]
            if side == "modelport":
                pair = (modelport_server(db, home, auth=False),
                        modelport_server(db, home, auth=True))
                headers: Callable[[Path], dict[str, str]] = admin_key
            else:
                pair = (mlflow_server(mlflow, db, home, auth=False),
                        mlflow_server(mlflow, db, home, auth=True))
                headers = lambda _log: basic_auth()  # noqa: E731
            result[side]["get_ms"], result[side]["get_auth_ms"] = auth_latencies(
                *pair, home, run_id, headers, calls)
        shown = {k: v for k, v in result[side].items() if k != "top100"}
        print(f"  {kind} {side}: {json.dumps(shown)}", flush=True)
    result["floor_ms"] = request_floor_ms(workdir, result["modelport"]["run_id"], FLOOR_CALLS)
    mp, ml = result["modelport"], result["MLflow"]
    result["same_top100"] = mp.pop("top100") == ml.pop("top100")
    result["same_fetched"] = mp["fetched"] == ml["fetched"] == len(runs)
    return result


def ratios(r: dict[str, Any]) -> dict[str, float | None]:
    mp, ml = r["modelport"], r["MLflow"]

    def div(a: Any, b: Any) -> float | None:
        return round(a / b, 2) if isinstance(a, float | int) and isinstance(b, float | int) \
            and b else None

    return {
        "log_runs": div(mp["log_runs_per_s"], ml["log_runs_per_s"]),
        "top100": div(ml["top100_ms"], mp["top100_ms"]),
        "fetch_all": div(ml["fetch_all_s"], mp["fetch_all_s"]),
        "register": div(mp["register_per_s"], ml["register_per_s"]),
        # the most any server could reach there: MLflow's ms per version ÷ the floor's
        "register_ceiling": div(1000 / ml["register_per_s"], r["floor_ms"]),
        "register_concurrent": div(mp["register_concurrent_per_s"],
                                   ml["register_concurrent_per_s"]),
        "register_batch": div(mp["register_batch_per_s"], ml["register_batch_per_s"]),
        "modelport_auth_cost": div(mp["get_auth_ms"], mp["get_ms"]),
        "mlflow_auth_cost": div(ml["get_auth_ms"], ml["get_ms"]),
        "rss_rest": div(mp["rss_rest_mb"], ml["rss_rest_mb"]),
    }


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [f"# Team server: modelport server vs MLflow {meta['mlflow']} tracking server",
             "", f"{meta['runs']:,} runs (20 params, 11 metrics, 5 tags each), "
             f"{meta['versions']:,} versions; one worker process each, one HTTP client, "
             + (f"{meta['hog']} busy processes beside it (a CPU hog), " if meta.get("hog")
                else "")
             + f"load before: `{meta['load_before']}`, after: `{meta['load_after']}`.", ""]
    for kind in [k for k in ("postgresql", "sqlite") if k in results]:
        r = results[kind]
        mp, ml, x = r["modelport"], r["MLflow"], r["ratios"]
        lines += [f"## {kind}", "", "| measure | modelport | MLflow | ratio | target |",
                  "|---|---:|---:|---:|---|",
                  f"| log runs (runs/s) | {mp['log_runs_per_s']} | {ml['log_runs_per_s']} | "
                  f"{x['log_runs']}× | ≥ 10× |",
                  f"| filtered ordered top-100 (ms) | {mp['top100_ms']} | {ml['top100_ms']} | "
                  f"{x['top100']}× | ≥ 10× |",
                  f"| fetch all runs (s) | {mp['fetch_all_s']} | {ml['fetch_all_s']} | "
                  f"{x['fetch_all']}× | ≥ 10× |",
                  f"| register versions (/s) | {mp['register_per_s']} | "
                  f"{ml['register_per_s']} | {x['register']}× | ≥ 10× (at most "
                  f"{x['register_ceiling']}× for any server: see the floor) |",
                  f"| register versions, {CLIENTS} clients at once (/s) | "
                  f"{mp['register_concurrent_per_s']} | {ml['register_concurrent_per_s']} | "
                  f"{x['register_concurrent']}× | (for information; failed: "
                  f"{mp['register_concurrent_failed']} / {ml['register_concurrent_failed']}) |",
                  f"| register versions in batch calls of up to {BATCH:,} (/s; MLflow: one "
                  f"by one, its only way) | {mp['register_batch_per_s']} | "
                  f"{ml['register_batch_per_s']} | {x['register_batch']}× | ≥ 10× |",
                  f"| floor: one registration request answered by a server doing nothing "
                  f"(ms, median) | {r['floor_ms']} | | | |",
                  f"| get a run, auth off (ms, median) | {mp['get_ms']} | {ml['get_ms']} | | |",
                  f"| get a run, auth on (ms, median) | {mp['get_auth_ms']} | "
                  f"{ml['get_auth_ms']} | {x['modelport_auth_cost']}× / "
                  f"{x['mlflow_auth_cost']}× of off | ≤ 1.2× of off |",
                  f"| RSS fresh (MB) | {mp['rss_fresh_mb']} | {ml['rss_fresh_mb']} | | |",
                  f"| RSS at rest after the work (MB) | {mp['rss_rest_mb']} | "
                  f"{ml['rss_rest_mb']} | {x['rss_rest']}× | ≤ 0.5× |",
                  "", f"Same top-100 on both: {r['same_top100']}; every run fetched on both: "
                  f"{r['same_fetched']}. Latencies: fresh auth-off and auth-on servers side "
                  f"by side, asked in turn ({BLOCKS} blocks each).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="500 runs, 100 versions")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--latency-calls", type=int, default=LATENCY_CALLS,
                        help="run fetches per latency median (MLflow's basic-auth: ~1 s each)")
    parser.add_argument("--mlflow-venv", type=Path, default=Path("/tmp/bench-mlflow"))
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--hog", type=int, default=0, metavar="N",
                        help="run N busy processes beside the benchmark (a loaded machine); "
                             "results go to server-hog.*")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop servers, drop databases
    n, versions = (500, 100) if args.quick else (args.runs, args.versions)
    mlflow = ensure_mlflow(args.mlflow_venv)
    version = subprocess.run([str(mlflow), "--version"], capture_output=True,
                             text=True).stdout.split()[-1]
    runs = make_runs(n, seed=16)
    results: dict[str, Any] = {"meta": {
        "runs": n, "versions": versions, "latency_calls": args.latency_calls, "mlflow": version,
        "python": platform.python_version(), "hog": args.hog,
        "load_before": os.getloadavg(), "cpus": os.cpu_count()}}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp, hogs(args.hog):
        for kind in args.backends.split(","):
            print(f"{kind}: {n} runs, {versions} versions", flush=True)
            workdir = Path(tmp) / kind
            workdir.mkdir()
            results[kind] = one_backend(kind, mlflow, workdir, runs, versions,
                                        args.latency_calls)
            results[kind]["ratios"] = ratios(results[kind])
    results["meta"]["load_after"] = os.getloadavg()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "server" + ("-quick" if args.quick else "") + ("-hog" if args.hog else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(results))
    print(json.dumps({k: results[k].get("ratios") for k in results if k != "meta"}, indent=2))


if __name__ == "__main__":
    main()
