"""Real traffic through the serving app, in process: what ``modelport serve --log-sample``
answers and logs, without a port or a process of its own."""

from __future__ import annotations

import asyncio
import json

import pandas as pd

from modelport.core.workspace import Workspace
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService


def serve_frame(ws: Workspace, name: str, frame: pd.DataFrame, predlog: PredictionLog,
                batch: int = 50) -> None:
    """Send ``frame`` through the app's MLflow route ``batch`` rows at a time, logging
    into ``predlog``; then shut the app down, which flushes the log."""
    served = ServingApp(InferenceService(Repository([name], ws=ws), predlog))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(served.startup())
    try:
        for start in range(0, len(frame), batch):
            part = frame.iloc[start:start + batch].astype(object)
            part = part.where(part.notna(), None)  # a missing value is JSON null
            body = {"dataframe_split": {"columns": list(part.columns),
                                        "data": part.values.tolist()}}
            response = loop.run_until_complete(served.respond(Request(
                "POST", "/invocations", {"content-type": "application/json"},
                json.dumps(body).encode())))
            assert response.status == 200, response.body
    finally:
        loop.run_until_complete(served.shutdown())
        loop.close()
