"""The workload and the two tracking systems it runs on, behind one small interface.

``make_runs`` builds the same seeded runs for both systems; ``MlflowSystem`` and
``ModelportSystem`` each own a fresh SQLite database and answer the same four
questions (log a run, top-100 search, fetch everything, page through). Each
query method returns the system's own result objects untouched, so only the
API call is timed; ``names`` and ``contents`` turn them into comparable values
afterwards.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

FILTER = "metrics.accuracy > 0.5 and params.max_depth = '5'"
ORDER_BY = "metrics.accuracy DESC"
TOP_K = 100
PAGES = 10
PAGE_SIZE = 100
MLFLOW_MAX_RESULTS = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD

DEPTHS = (3, 5, 7, 9)


def _choice(*values: str) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(values)


def _uniform(low: float, high: float) -> Callable[[random.Random], str]:
    return lambda rng: f"{rng.uniform(low, high):.6g}"


def _integer(low: int, high: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(low, high))


PARAMS: dict[str, Callable[[random.Random], str]] = {
    "max_depth": lambda rng: str(rng.choice(DEPTHS)),
    "n_estimators": _integer(50, 2000),
    "learning_rate": _uniform(0.001, 0.3),
    "subsample": _uniform(0.5, 1.0),
    "colsample_bytree": _uniform(0.3, 1.0),
    "min_child_weight": _integer(1, 20),
    "reg_alpha": _uniform(0.0, 10.0),
    "reg_lambda": _uniform(0.0, 10.0),
    "gamma": _uniform(0.0, 5.0),
    "max_leaves": _integer(0, 255),
    "max_bin": _choice("64", "128", "256", "512"),
    "booster": _choice("gbtree", "dart", "gblinear"),
    "tree_method": _choice("hist", "approx", "exact"),
    "objective": _choice("binary:logistic", "binary:hinge"),
    "eval_metric": _choice("logloss", "auc", "error"),
    "seed": _integer(0, 1_000_000),
    "early_stopping_rounds": _choice("10", "20", "50"),
    "scale_pos_weight": _uniform(0.5, 5.0),
    "grow_policy": _choice("depthwise", "lossguide"),
    "dataset_version": _choice("v1", "v2", "v3", "v4"),
}
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "val_accuracy",
           "val_loss", "train_loss", "train_seconds", "best_iteration")
TAGS: dict[str, Callable[[random.Random], str]] = {
    "team": _choice("fraud", "churn", "search", "ads"),
    "stage": _choice("exploration", "tuning", "candidate"),
    "dataset": _choice("transactions-2026-10", "transactions-2026-11", "clicks-q3"),
    "host": lambda rng: f"worker-{rng.randint(1, 32):02d}",
    "note": lambda rng: rng.choice(("baseline", "wider trees", "more rounds", "new features")),
}


@dataclass(frozen=True)
class RunData:
    """One run's worth of values, logged identically into both systems."""

    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def make_runs(n: int, seed: int) -> list[RunData]:
    """``n`` runs of 20 params, 11 metrics and 5 tags, from a seeded RNG."""
    rng = random.Random(seed)
    runs = []
    for i in range(n):
        params = {key: gen(rng) for key, gen in PARAMS.items()}
        metrics = {key: rng.random() for key in METRICS}
        metrics["train_seconds"] *= 600.0
        metrics["best_iteration"] = float(rng.randint(1, 2000))
        tags = {key: gen(rng) for key, gen in TAGS.items()}
        runs.append(RunData(f"run-{i:06d}", params, metrics, tags))
    return runs


@dataclass
class Contents:
    """What a fetched run holds, in plain values."""

    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


class System(Protocol):
    label: str
    db_path: Path

    def log(self, run: RunData) -> None: ...
    def top(self) -> Any: ...
    def fetch_all(self) -> Any: ...
    def pages(self) -> Any: ...
    def names(self, result: Any) -> list[str]: ...
    def contents(self, result: Any) -> dict[str, Contents]: ...


class MlflowSystem:
    """MLflow's tracking client on its SQLAlchemy (SQLite) store."""

    label = "MLflow"

    def __init__(self, root: Path) -> None:
        from mlflow.tracking import MlflowClient

        root.mkdir(parents=True)
        self.db_path = root / "mlflow.db"
        self.client = MlflowClient(tracking_uri=f"sqlite:///{self.db_path}")
        self.exp_id = self.client.create_experiment(
            "bench", artifact_location=(root / "artifacts").as_uri())

    def log(self, run: RunData) -> None:
        from mlflow.entities import Metric, Param, RunTag

        now = int(time.time() * 1000)
        created = self.client.create_run(self.exp_id, run_name=run.name)
        run_id = created.info.run_id
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in run.metrics.items()],
            params=[Param(k, v) for k, v in run.params.items()],
            tags=[RunTag(k, v) for k, v in run.tags.items()],
        )
        self.client.set_terminated(run_id)

    def top(self) -> Any:
        return self.client.search_runs([self.exp_id], filter_string=FILTER, order_by=[ORDER_BY],
                                       max_results=TOP_K)

    def fetch_all(self) -> Any:
        runs: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([self.exp_id], max_results=MLFLOW_MAX_RESULTS,
                                           page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def pages(self) -> Any:
        runs: list[Any] = []
        token = None
        for _ in range(PAGES):
            page = self.client.search_runs([self.exp_id], order_by=[ORDER_BY],
                                           max_results=PAGE_SIZE, page_token=token)
            runs.extend(page)
            token = page.token
            if not token:
                break
        return runs

    def names(self, result: Any) -> list[str]:
        return [run.info.run_name for run in result]

    def contents(self, result: Any) -> dict[str, Contents]:
        return {run.info.run_name: Contents(dict(run.data.params), dict(run.data.metrics),
                                            dict(run.data.tags)) for run in result}


class ModelportSystem:
    """modelport's public Python API on its embedded SQLite store."""

    label = "modelport"

    def __init__(self, home: Path) -> None:
        import modelport

        self.modelport = modelport
        self.home = home
        self.ws = modelport.Workspace.open(modelport.Settings(home=home))
        self.db_path = home / "modelport.db"

    def log(self, run: RunData) -> None:
        active = self.modelport.create_run(name=run.name, experiment="bench", ws=self.ws)
        active.log_batch(params=run.params, metrics=run.metrics, tags=run.tags)
        active.end()

    def top(self) -> Any:
        return self.modelport.search_runs(FILTER, order_by=ORDER_BY, max_results=TOP_K,
                                          ws=self.ws).runs

    def fetch_all(self) -> Any:
        return self.modelport.search_runs(max_results=None, ws=self.ws).runs

    def pages(self) -> Any:
        runs: list[Any] = []
        token = None
        for _ in range(PAGES):
            page = self.modelport.search_runs(order_by=ORDER_BY, max_results=PAGE_SIZE,
                                              page_token=token, ws=self.ws)
            runs.extend(page.runs)
            token = page.next_page_token
            if not token:
                break
        return runs

    def names(self, result: Any) -> list[str]:
        return [run.name for run in result]

    def contents(self, result: Any) -> dict[str, Contents]:
        return {run.name: Contents(dict(run.params), dict(run.metrics), dict(run.tags))
                for run in result}
