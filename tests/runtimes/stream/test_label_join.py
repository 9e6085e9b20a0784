"""Delayed labels through a real Redis stream, joined to served predictions by request id."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from cli_runner import cli, cli_json
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.predlogs import logs_root, read_window
from modelport.lifecycle.registry import register_model
from modelport.runtimes.label_stream import drain
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService
from modelport.runtimes.stream.brokers import open_sink


def serve(ws: Workspace, frame: pd.DataFrame, ids: list[str]) -> None:
    """Each row its own request (id given), then one request of two rows; all logged."""
    predlog = PredictionLog(logs_root(ws), sample=1.0, flush_s=3600)
    served = ServingApp(InferenceService(Repository(["loans"], ws=ws), predlog))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(served.startup())
    try:
        batches = [(rid, frame.iloc[[i]]) for i, rid in enumerate(ids)]
        batches.append(("batch-1", frame.iloc[:2]))
        for rid, part in batches:
            body = {"dataframe_split": {"columns": list(part.columns),
                                        "data": part.values.tolist()}}
            response = loop.run_until_complete(served.respond(Request(
                "POST", "/invocations", {"content-type": "application/json",
                                         "x-request-id": rid}, json.dumps(body).encode())))
            assert response.status == 200, response.body
    finally:
        loop.run_until_complete(served.shutdown())
        loop.close()


@pytest.mark.parametrize("make_url", ["redis"], indirect=True)
def test_labels_from_a_redis_stream_join_logged_predictions(make_url: Callable[[str], str],
                                                            env_ws: Workspace) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"debt": rng.normal(5, 2, 400), "income": rng.normal(50, 10, 400)})
    truth = ((frame["debt"] + rng.normal(0, 1.5, 400)) > 5).astype(int)
    register_model("loans", LogisticRegression().fit(frame, truth), X=frame, ws=env_ws)
    ids = [f"req-{i}" for i in range(300)]
    serve(env_ws, frame.iloc[:300], ids)
    window = read_window(logs_root(env_ws), "loans", 1, 0)
    predicted = dict(zip(window.table.column("request_id").to_pylist(),
                         window.table.column("prediction").to_pylist(), strict=True))
    labelled = ids[:200]  # the rest have not come back yet
    expected = sum(predicted[rid] == str(truth[i]) for i, rid in enumerate(labelled))
    assert 0 < expected < 200  # a model that is sometimes wrong

    labels = make_url("labels")
    sink = open_sink(labels)
    sink.publish([json.dumps({"id": rid, "label": int(truth[i])}).encode()
                  for i, rid in enumerate(labelled)])
    sink.publish([json.dumps({"id": "req-0", "label": 1 - int(truth[0])}).encode(),  # again
                  b"{not json", json.dumps({"label": 1}).encode(),  # malformed, no id
                  json.dumps({"id": "batch-1", "label": 1}).encode(),  # two rows: ambiguous
                  json.dumps({"id": "never-served", "label": 0}).encode()])
    sink.close()
    forget_stores()

    [report] = cli_json("monitor", "loans", "--since", "1h", "--labels", labels)
    accuracy = report["accuracy"]
    assert (accuracy["labels"], accuracy["correct"]) == (200, expected)  # req-0 once, first
    assert accuracy["source"] == "labels joined by request id"
    assert accuracy["low"] < expected / 200 < accuracy["high"]
    # acknowledged once kept: nothing is read again, and the report still has them
    assert drain(labels, [("loans", 1)], wait_s=0.2, ws=env_ws).labels == 0
    out = cli("monitor", "loans", "--since", "1h")
    assert "accuracy on 200 labels (labels joined by request id)" in out
    assert "read" not in out.splitlines()[0]
    forget_stores()
