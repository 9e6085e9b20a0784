"""A real workspace for the dashboard's operations pages: a batch job whose logged traffic
drifted, a recorded monitoring check (a job and a run), a search, a stream and an edge
fleet — every record made by the library (batch predict, monitor, tracking, stream
progress, MQTT + fleet)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from modelport.core.workspace import Workspace

HOSTILE = "<img src=x onerror=window.__xss=3>"  # no '/': MQTT topics refuse it (device ids)
SCRIPT = "<script>window.__xss = 4</script><b>bold</b>"  # stream names and job inputs
SHIFTED = "petal length (cm)"


def seed_ops(ws: Workspace, iris: Any, tmp: Path) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from modelport.control.monitor_loop import record
    from modelport.lifecycle.registry import register_model
    from modelport.lifecycle.tracking import create_run
    from modelport.runtimes.batch import predict_job
    from modelport.runtimes.stream import progress

    X, y = iris.frame.iloc[:, :-1], iris.frame.iloc[:, -1]
    register_model("iris", LogisticRegression(max_iter=300).fit(X, y), X=X, ws=ws)
    served = X.sample(600, replace=True, random_state=0).reset_index(drop=True)
    served[SHIFTED] += 3.0  # one feature moves; the others are drawn as in training
    served.to_csv(tmp / "served.csv", index=False)
    job = predict_job("iris", str(tmp / "served.csv"), str(tmp / "out"), log_sample=1.0,
                      workers=1, ws=ws)
    _, checked = record("iris", since_s=3600, ws=ws)

    for trial in range(3):  # a search's trials are runs (as lifecycle.tune makes them)
        run = create_run(name=f"search-{trial}", experiment="search",
                         tags={"study": "search", "trial": trial, "kind": "tune"}, ws=ws)
        run.log_params({"C": 0.1 * (trial + 1)})
        run.log_metrics({"accuracy": 0.9 + trial / 100})
        if trial < 2:
            run.end()

    progress.start(SCRIPT, "c1", "iris:1", {"broker": "redis"}, ws=ws)
    progress.heartbeat(SCRIPT, "c1", {
        "events": 1200, "events_per_second": 250.5, "lag": 17, "pending": 3,
        "metrics": {"accuracy": 0.93},
        "drift": {"error_drifts": 1, "error_at": [900], "feature_drifts": {SHIFTED: 2},
                  "last": {"kind": "features", "features": [SHIFTED], "event": 1100,
                           "at": time.time()}}}, ws=ws)
    progress.save_checkpoint(SCRIPT, "c1", b"model state", {"pending": []}, events=1200,
                             labels=800, version="iris:1", ws=ws)
    return {"job": job.job.id, "monitor_run": checked.run_id, "monitor_job": checked.job_id}


def seed_fleet(ws: Workspace, broker: str, prefix: str) -> list[Any]:
    """Two devices of group 'shop' reporting over MQTT as the agent does (retained
    statuses), one in a 50 % canary, one rolled back to the fallback; recorded by the
    fleet sweep."""
    from modelport.runtimes.edge.fleet import record_fleet
    from modelport_edge.mqtt import Broker, Topics, publish_retained

    parsed, topics = Broker.parse(broker), Topics(prefix)
    old, new = "a" * 64, "b" * 64
    publish_retained(parsed, topics.update("shop"), {
        "model": "iris", "version": 2, "digest": new, "size": 10, "url": "/v2/edge/bundles/b",
        "percent": 50.0, "published_at": time.time(),
        "fallback": {"model": "iris", "version": 1, "digest": old, "size": 9, "url": "/x"}})
    for device, digest, version, state in (("till-1", new, 2, "ok"),
                                           (HOSTILE, old, 1, "rolled_back")):
        publish_retained(parsed, topics.status("shop", device), {
            "device": device, "group": "shop", "online": True, "state": state,
            "healthy": True, "model": "iris", "version": version, "digest": digest,
            "last_error": None if state == "ok" else {
                "during": "check", "digest": new, "reason": "unhealthy",
                "message": "smoke rows differ", "at": time.time()},
            "metrics": {"requests": 5, "predictions": 40, "errors": 0,
                        "latency_ms_p50": 0.2, "latency_ms_p99": 0.9},
            "ts": time.time()})
    return record_fleet(broker=broker, topic_prefix=prefix, seconds=1.0, ws=ws)


def unique_prefix() -> str:
    return f"mptest/{uuid.uuid4().hex[:10]}"
