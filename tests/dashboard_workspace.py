"""A small real workspace for the dashboard's tests: runs with histories, a model, hostile names."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

from modelport.core.store.runs import MetricValue
from modelport.core.workspace import Workspace
from modelport.lifecycle.tracking import create_run

XSS = "<script>window.__xss = 1</script><img src=x onerror=window.__xss=2>"
LAB = "lab"  # a second project (project names allow no markup: its objects' names carry it)
LAB_XSS = "<img src=x onerror=window.__xss=5>lab"


def seed(ws: Workspace, iris: Any) -> dict[str, str]:
    """Three runs (one named and tagged with markup) and model ``iris`` v1–v2 from the first.

    Returns run names to ids.
    """
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model, set_alias

    ids = {}
    for i, (name, lr) in enumerate([("baseline", 0.1), ("wide", 0.3), (XSS, 0.05)]):
        run = create_run(name=name, experiment="iris", ws=ws)
        run.log_params({"lr": lr, "depth": 3 + i, "optimizer": "adam"})
        ws.store.runs.log_batch(run.id, {}, [  # 300 steps in one transaction
            MetricValue(key, step, value) for step in range(300) for key, value in (
                ("loss", math.exp(-lr * step / 20) + 0.01 * math.sin(step + i)),
                ("accuracy", 0.6 + 0.3 * (1 - math.exp(-lr * step / 30))))], {}, time.time())
        run.set_tags({"team": "vision" if i else "tabular", "note": XSS if name == XSS else "ok"})
        run.log_artifact(b"weights " + bytes([i]), "model/weights.bin")
        if i == 0:
            run.log_dataset(iris)
        run.end()
        ids[name] = run.id
    X, y = iris.frame.iloc[:, :-1], iris.frame.iloc[:, -1]
    model = LogisticRegression(max_iter=200).fit(X, y)
    for _ in range(2):
        register_model("iris", model, X=X, metrics={"accuracy": 0.95}, run_id=ids["baseline"],
                       tags={"stage": "test"}, ws=ws)
    set_alias("iris", "champion", 1, ws=ws)
    return ids


def a_job(ws: Workspace, label: str, model: str = "iris") -> None:
    """A running prediction job of ``model`` reading ``label``, in ``ws``'s project."""
    ws.store.jobs.create_job({
        "id": uuid.uuid4().hex, "kind": "predict", "model": model, "version": 1,
        "status": "running", "input": label, "input_digest": None, "output": "out/",
        "options": {}, "rows": 0, "rows_failed": 0, "parts": 0, "error": None,
        "started": time.time(), "ended": None, "duration": None})


def job_and_stream(ws: Workspace, label: str, model: str = "iris") -> None:
    """A job reading ``label`` and a stream named ``label``, both of ``model``, in ``ws``'s
    project: what the pages of every other project must not show."""
    a_job(ws, label, model)
    ws.store.streams.start_stream(label, "c1", f"{model}:1", {}, time.time())
