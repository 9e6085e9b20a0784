"""Streaming with online learning through Redis vs a raw in-memory River loop.

Issue 8 asks that modelport's stream consumer — reading events from a Redis
stream, predicting, publishing each prediction, joining delayed labels by id
and learning from them, acknowledging after checkpoints — reach at least half
the events per second of the plain River loop that does only the maths
(``predict_proba_one`` + ``learn_one`` on dicts already in memory). Both run
here in one run on the same events, the same pipeline (StandardScaler |
LogisticRegression, 20 features), each on one core (taskset) with Redis on the
other; the rounds alternate so machine noise hits both alike.

Measured per round:
- ceiling: the raw River loop over the events (events/s);
- modelport, backlog: events and labels already in Redis; `modelport stream
  run --learn` drains them (events/s from its first to its last prediction,
  read off the Redis entry ids), and predict-only for reference;
- modelport, live: a producer sends events at a fixed rate (labels trail by
  100 events); per-event latency = prediction published − event sent (p50/p99).

    python benchmarks/stream/bench.py [--events 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results"
REDIS = "redis://127.0.0.1:6379"
N_FEATURES = 20
CORE_CONSUMER, CORE_OTHER = "0", "1"


def make_events(n: int, seed: int = 0) -> tuple[list[dict[str, float]], list[int]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, N_FEATURES))
    w = rng.normal(size=N_FEATURES)
    y = (x @ w + rng.normal(scale=0.5, size=n) > 0).astype(int)
    names = [f"f{i}" for i in range(N_FEATURES)]
    return [dict(zip(names, row, strict=True)) for row in x.tolist()], y.tolist()


def ceiling(events: list[dict[str, float]], labels: list[int]) -> float:
    """The raw River loop, run in a child pinned like the consumer."""
    code = f"""
import json, sys, time
from river import linear_model, preprocessing
data = json.load(open({json.dumps(str(CACHE))}))
events, labels = data["events"], data["labels"]
model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
start = time.perf_counter()
for x, y in zip(events, labels):
    model.predict_proba_one(x)
    model.learn_one(x, y)
print(len(events) / (time.perf_counter() - start))
"""
    out = subprocess.run(["taskset", "-c", CORE_CONSUMER, sys.executable, "-c", code],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def load_backlog(r: redis.Redis, key: str, events: list[dict[str, float]],
                 labels: list[int] | None) -> None:
    pipe = r.pipeline(transaction=False)
    for i, x in enumerate(events):
        pipe.xadd(f"{key}.events", {"d": orjson.dumps({"id": f"e{i}", "features": x})})
        if labels is not None:
            pipe.xadd(f"{key}.labels", {"d": orjson.dumps({"id": f"e{i}", "label": labels[i]})})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def consumer(home: Path, key: str, learn: bool, extra: list[str] = ()) -> subprocess.Popen[bytes]:
    args = ["taskset", "-c", CORE_CONSUMER, sys.executable, "-m", "modelport", "stream", "run",
            "bench", "--source", f"{REDIS}/{key}.events", "--sink", f"{REDIS}/{key}.preds",
            "--group", key, "--batch-size", "500", "--drift", "adwin", *extra]
    if learn:
        args += ["--learn", "--labels", f"{REDIS}/{key}.labels"]
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def entry_ms(entry_id: bytes) -> int:
    return int(entry_id.split(b"-")[0])


def backlog_round(r: redis.Redis, home: Path, events: list[dict[str, float]],
                  labels: list[int], learn: bool) -> float:
    key = f"bench-{uuid.uuid4().hex[:8]}"
    load_backlog(r, key, events, labels if learn else None)
    proc = consumer(home, key, learn, ["--exit-when-idle", "1"])
    _, err = proc.communicate(timeout=600)
    if proc.returncode:
        raise RuntimeError(err.decode())
    first = r.xrange(f"{key}.preds", count=1)[0][0]
    last = r.xrevrange(f"{key}.preds", count=1)[0][0]
    produced = r.xlen(f"{key}.preds")
    assert produced == len(events), (produced, len(events))
    r.delete(*[f"{key}.{s}" for s in ("events", "labels", "preds", "events.dead")])
    # entry ids are milliseconds: the span between the first and last prediction
    return produced / max((entry_ms(last) - entry_ms(first)) / 1000, 1e-3)


def live_round(r: redis.Redis, home: Path, events: list[dict[str, float]], labels: list[int],
               rate: float) -> dict[str, float]:
    """Send at ``rate`` events/s; labels trail by 100 events; latency per event."""
    key = f"bench-{uuid.uuid4().hex[:8]}"
    proc = consumer(home, key, True)
    time.sleep(2.0)  # let it connect and create its groups
    sent: dict[str, float] = {}
    start = time.time()
    pipe = r.pipeline(transaction=False)
    chunk = max(1, int(rate / 200))  # send in 5 ms ticks
    for i in range(0, len(events), chunk):
        target = start + i / rate
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
        now = time.time()
        for j in range(i, min(i + chunk, len(events))):
            pipe.xadd(f"{key}.events", {"d": orjson.dumps({"id": f"e{j}",
                                                           "features": events[j]})})
            sent[f"e{j}"] = now
            if j >= 100:
                pipe.xadd(f"{key}.labels", {"d": orjson.dumps({"id": f"e{j - 100}",
                                                               "label": labels[j - 100]})})
        pipe.execute()
    deadline = time.time() + 60
    while r.xlen(f"{key}.preds") < len(events) and time.time() < deadline:
        time.sleep(0.1)
    proc.terminate()
    proc.communicate(timeout=30)
    latencies = []
    for entry_id, fields in r.xrange(f"{key}.preds"):
        doc = orjson.loads(fields[b"d"])
        latencies.append(entry_ms(entry_id) / 1000 - sent[doc["id"]])
    r.delete(*[f"{key}.{s}" for s in ("events", "labels", "preds", "events.dead")])
    ms = np.asarray(latencies) * 1000
    return {"rate": rate, "delivered": len(latencies), "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99))}


def prepare(home: Path, events: list[dict[str, float]], labels: list[int]) -> None:
    import pandas as pd

    frame = pd.DataFrame(events[:1000]).assign(label=labels[:1000])
    path = home.parent / "train.csv"
    frame.to_csv(path, index=False)
    env = {**os.environ, "MODELPORT_HOME": str(home)}
    subprocess.run([sys.executable, "-m", "modelport", "train", "--online", "--data", str(path),
                    "--target", "label", "--model", "logistic_regression", "--name", "bench"],
                   env=env, check=True, capture_output=True)


CACHE = Path(tempfile.gettempdir()) / "modelport-stream-bench-events.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--live-events", type=int, default=20_000)
    args = parser.parse_args()

    events, labels = make_events(args.events)
    CACHE.write_text(json.dumps({"events": events, "labels": labels}))
    r = redis.Redis.from_url(REDIS)
    rows: dict[str, list[float]] = {"ceiling": [], "learn": [], "predict": []}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        prepare(home, events, labels)
        for rnd in range(args.rounds):
            rows["ceiling"].append(ceiling(events, labels))
            rows["learn"].append(backlog_round(r, home, events, labels, learn=True))
            rows["predict"].append(backlog_round(r, home, events, labels, learn=False))
            print(f"round {rnd + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rows.items()),
                  flush=True)
        best = {k: statistics.median(v) for k, v in rows.items()}
        live = live_round(r, home, events[:args.live_events], labels[:args.live_events],
                          rate=round(best["learn"] * 0.5, -2))
    CACHE.unlink(missing_ok=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "events": args.events, "rounds": rows, "median": best,
        "ratio_learn": best["learn"] / best["ceiling"],
        "ratio_predict": best["predict"] / best["ceiling"], "live": live,
        "target": 0.5, "date": time.strftime("%Y-%m-%d"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stream.json").write_text(json.dumps(result, indent=2))
    (RESULTS / "stream.md").write_text(render(result))
    print(render(result))


def render(res: dict[str, Any]) -> str:
    m, live = res["median"], res["live"]
    verdict = "met" if res["ratio_learn"] >= res["target"] else "missed"
    return "\n".join([
        f"{res['events']:,} events, 20 features, StandardScaler | LogisticRegression; "
        f"median of {len(res['rounds']['ceiling'])} rounds ({res['date']})",
        "",
        "| setup | events/s | vs ceiling |",
        "|---|---:|---:|",
        "| raw River loop in memory (predict_proba_one + learn_one) | "
        f"{m['ceiling']:,.0f} | 1.00 |",
        f"| modelport stream, Redis in and out, predict + learn from delayed labels, "
        f"checkpoints | {m['learn']:,.0f} | {res['ratio_learn']:.2f} |",
        f"| modelport stream, Redis in and out, predict only | {m['predict']:,.0f} | "
        f"{res['ratio_predict']:.2f} |",
        "",
        f"Live at {live['rate']:,.0f} events/s (half the learning throughput), labels 100 "
        f"events behind: p50 {live['p50_ms']:.1f} ms, p99 {live['p99_ms']:.1f} ms from "
        f"sending an event to its prediction being in Redis ({live['delivered']:,} events).",
        "",
        f"Target (issue 8): predict + learn through the broker ≥ 50 % of the raw loop — "
        f"{verdict} ({res['ratio_learn']:.0%}).",
        "",
    ])


if __name__ == "__main__":
    main()
