"""The same workload spoken to each server's own REST API over one keep-alive connection.

Each client logs a finished run the fewest requests its own Python client
does: modelport's sends it whole in one idempotent request (``PUT
/api/v1/runs/{id}``, what ``modelport.log_run`` sends); MLflow has no such
call, so its run is created, gets its params, metrics and tags in one
``log-batch`` and is ended — three requests, as ``mlflow.start_run`` with
``log_params``/``log_metrics`` batched makes. Registering many versions at
once is one request to modelport (``modelport.register_models``) and one per
version to MLflow, which has no batch call. Queries return plain run names
so the two answers can be compared.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

FILTER = "metrics.accuracy > 0.5 and params.max_depth = '5'"
ORDER_BY = "metrics.accuracy DESC"
TOP_K = 100
FETCH_PAGE = 10_000  # modelport's largest page; MLflow takes up to 50,000
MODEL = "bench-model"


class Client:
    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.Client(base_url=url, headers=headers or {}, timeout=600)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, path, json=body, params=params or None)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


class ModelportClient(Client):
    label = "modelport"

    def setup(self) -> None:
        return None

    def log(self, name: str, params: dict[str, str], metrics: dict[str, float],
            tags: dict[str, str]) -> str:
        now = time.time()
        run_id = uuid.uuid4().hex
        self.call("PUT", f"/api/v1/runs/{run_id}", {"now": now, "run": {
            "id": run_id, "name": name, "experiment": "bench", "status": "finished",
            "start_time": now, "end_time": now + 0.01, "duration": 0.01, "dataset_digest": None,
            "git_commit": None, "packages": {}, "params": params, "tags": tags,
            "metrics": metrics}})
        return run_id

    def top(self) -> list[str]:
        page = self.call("POST", "/api/v1/runs/search", {
            "filter": FILTER, "order_by": [ORDER_BY], "experiment": "bench",
            "max_results": TOP_K})
        return [r["name"] for r in page["runs"]]

    def fetch_all(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = self.call("POST", "/api/v1/runs/search", {
                "experiment": "bench", "max_results": FETCH_PAGE, "page_token": token})
            names += [r["name"] for r in page["runs"]]
            token = page["next_page_token"]
            if not token:
                return names

    def register(self, run_id: str, i: int) -> None:
        self.call("POST", f"/api/v1/models/{MODEL}/versions", {"now": time.time(), "tags": {},
                  "version": _version(run_id, i)})

    def register_batch(self, run_ids: list[str], first: int) -> None:
        """``len(run_ids)`` versions in one request (``modelport.register_models``' call)."""
        self.call("POST", "/api/v1/models/versions:batch", {"now": time.time(), "versions": [
            {"name": MODEL, "version": _version(run_id, first + k)}
            for k, run_id in enumerate(run_ids)]})

    def get(self, run_id: str) -> None:
        self.call("GET", f"/api/v1/runs/{run_id}")


def _version(run_id: str, i: int) -> dict[str, Any]:
    return {"format": "sklearn", "artifact_digest": f"{i:064x}", "artifact_size": 1,
            "sample_digest": None, "signature": {}, "input_example": None, "metrics": {},
            "run_id": run_id, "dataset_digest": None, "description": ""}


class MlflowClient(Client):
    label = "MLflow"
    experiment_id = ""

    def setup(self) -> None:
        self.experiment_id = self.call("POST", "/api/2.0/mlflow/experiments/create",
                                       {"name": "bench"})["experiment_id"]
        self.call("POST", "/api/2.0/mlflow/registered-models/create", {"name": MODEL})

    def log(self, name: str, params: dict[str, str], metrics: dict[str, float],
            tags: dict[str, str]) -> str:
        now = int(time.time() * 1000)
        run_id: str = self.call("POST", "/api/2.0/mlflow/runs/create", {
            "experiment_id": self.experiment_id, "start_time": now,
            "run_name": name})["run"]["info"]["run_id"]
        self.call("POST", "/api/2.0/mlflow/runs/log-batch", {
            "run_id": run_id,
            "params": [{"key": k, "value": v} for k, v in params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
            "metrics": [{"key": k, "value": v, "timestamp": now, "step": 0}
                        for k, v in metrics.items()]})
        self.call("POST", "/api/2.0/mlflow/runs/update",
                  {"run_id": run_id, "status": "FINISHED", "end_time": now + 10})
        return run_id

    def _search(self, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call("POST", "/api/2.0/mlflow/runs/search", {
            "experiment_ids": [self.experiment_id], **body})
        return result

    def top(self) -> list[str]:
        page = self._search(filter=FILTER, order_by=[ORDER_BY], max_results=TOP_K)
        return [r["info"]["run_name"] for r in page.get("runs", [])]

    def fetch_all(self) -> list[str]:
        names: list[str] = []
        token = None
        while True:
            page = self._search(max_results=FETCH_PAGE, **({"page_token": token} if token else {}))
            names += [r["info"]["run_name"] for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                return names

    def register(self, run_id: str, i: int) -> None:
        self.call("POST", "/api/2.0/mlflow/model-versions/create", {
            "name": MODEL, "source": f"runs:/{run_id}/model", "run_id": run_id})

    def register_batch(self, run_ids: list[str], first: int) -> None:
        """MLflow has no call registering several versions: one request each."""
        for k, run_id in enumerate(run_ids):
            self.register(run_id, first + k)

    def get(self, run_id: str) -> None:
        self.call("GET", "/api/2.0/mlflow/runs/get", run_id=run_id)
