"""Tracking: runs with their params, step-wise metrics, tags and artifacts.

>>> with modelport.start_run(name="baseline") as run:     # doctest: +SKIP
...     run.log_params({"max_depth": 5})
...     for epoch, loss in enumerate(losses):
...         run.log_metric("loss", loss, step=epoch)

Each call writes through immediately (a crashed script keeps what it
logged); ``log_batch`` writes many values in one transaction. The latest
value of each metric is kept in its own indexed table so searches never scan
the step history.
"""

from __future__ import annotations

import math
import subprocess
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from modelport.core.store.runs import DatasetRecord, MetricValue, RunRecord
from modelport.core.store.text import storable
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
TRACKED_PACKAGES = ("modelport", "numpy", "pandas", "scikit-learn", "lightgbm", "xgboost",
                    "onnxruntime", "skops")


def _key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or not storable(key):
        raise InvalidInputError(f"invalid key {key!r}: a non-empty string of at most {MAX_KEY} "
                                "characters, without NUL or lone surrogates")
    return key


def _text(key: str, value: Any, limit: int, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise InvalidInputError(f"{what} {key!r} is {len(text)} characters long; the limit is "
                                f"{limit}")
    if not storable(text):
        raise InvalidInputError(f"{what} {key!r} holds a NUL character or a lone surrogate, "
                                "which no store keeps")
    return text


def _number(key: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"metric {key!r} must be a number, got {value!r}") from None
    if math.isnan(number):
        raise InvalidInputError(f"metric {key!r} is NaN")
    return number


class Run:
    """An active run. Use ``start_run``; the run ends (FINISHED, or FAILED on an
    exception) when its ``with`` block does."""

    def __init__(self, ws: Workspace, record: RunRecord) -> None:
        self.ws = ws
        self.id = record.id
        self.name = record.name
        self.experiment = record.experiment
        self._start = record.start_time
        self._steps: dict[str, int] = {}

    def log_param(self, key: str, value: Any) -> None:
        self.log_batch(params={key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.log_batch(params=params)

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        self.log_batch(metrics={key: value}, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.log_batch(metrics=metrics, step=step)

    def set_tag(self, key: str, value: Any) -> None:
        self.log_batch(tags={key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.log_batch(tags=tags)

    def log_batch(self, params: Mapping[str, Any] | None = None,
                  metrics: Mapping[str, float] | None = None,
                  tags: Mapping[str, Any] | None = None, step: int | None = None) -> None:
        """Write params, metrics and tags in one transaction.

        A metric logged without ``step`` gets the next step of its key in this
        run, so a loop of ``log_metric("loss", v)`` keeps its history. A param,
        once logged, cannot change: re-logging another value is an error.
        """
        param_values = {_key(k): _text(k, v, MAX_PARAM_VALUE, "param")
                        for k, v in (params or {}).items()}
        tag_values = {_key(k): _text(k, v, MAX_TAG_VALUE, "tag") for k, v in (tags or {}).items()}
        metric_values = []
        for k, v in (metrics or {}).items():
            s = step if step is not None else self._steps.get(_key(k), 0)
            self._steps[k] = max(self._steps.get(k, 0), s + 1)
            metric_values.append(MetricValue(k, int(s), _number(k, v)))
        self.ws.store.runs.log_batch(self.id, param_values, metric_values, tag_values,
                                     time.time())

    def log_artifact(self, source: str | Path | bytes, path: str | None = None) -> str:
        """Store a file (or bytes) as an artifact of this run; returns its digest."""
        if isinstance(source, bytes):
            if not path:
                raise InvalidInputError("an artifact given as bytes needs a path name")
            data = source
        else:
            file = Path(source)
            if not file.is_file():
                raise NotFoundError(f"artifact file {str(file)!r} not found")
            data, path = file.read_bytes(), path or file.name
        digest = self.ws.artifacts.put(data)
        self.ws.store.runs.log_artifact(self.id, path, digest, len(data))
        return digest

    def log_dataset(self, dataset: Any) -> None:
        """Record the dataset this run trained on (its digest is the lineage link)."""
        self.ws.store.runs.log_dataset(self.id, DatasetRecord(
            dataset.digest, dataset.name, dataset.rows, [str(c) for c in dataset.frame.columns]),
            time.time())

    def end(self, status: str = "FINISHED") -> None:
        end = time.time()
        self.ws.store.runs.end_run(self.id, status, end, end - self._start)


@contextmanager
def start_run(name: str | None = None, experiment: str = "default",
              tags: Mapping[str, Any] | None = None, ws: Workspace | None = None
              ) -> Iterator[Run]:
    """Open a run; it is FINISHED when the block exits, FAILED if it raises."""
    run = create_run(name=name, experiment=experiment, tags=tags, ws=ws)
    try:
        yield run
    except BaseException:
        run.end("FAILED")
        raise
    run.end("FINISHED")


def create_run(name: str | None = None, experiment: str = "default",
               tags: Mapping[str, Any] | None = None, ws: Workspace | None = None) -> Run:
    ws = current(ws)
    run_id = uuid.uuid4().hex
    record = RunRecord(id=run_id, name=name or f"run-{run_id[:8]}", experiment=experiment,
                       status="RUNNING", start_time=time.time(), end_time=None, duration=None,
                       dataset_digest=None, git_commit=git_commit(), packages=package_versions())
    ws.store.runs.create_run(record)
    run = Run(ws, record)
    if tags:
        run.set_tags(tags)
    return run


def log_run(name: str | None = None, params: Mapping[str, Any] | None = None,
            metrics: Mapping[str, float] | None = None, tags: Mapping[str, Any] | None = None,
            experiment: str = "default", history: Mapping[str, list[float]] | None = None,
            start_time: float | None = None, duration: float = 0.0, status: str = "FINISHED",
            ws: Workspace | None = None) -> str:
    """Log a run that already happened, whole, in one store call; returns its id.

    For results computed elsewhere (a notebook, a batch of trials, an import) there is
    nothing to write through as it goes: against ``modelport server`` this is one
    request instead of one per ``log_*`` call, and a retried request logs nothing twice.
    ``metrics`` are final values (step 0); ``history`` maps a metric to its values at
    steps 0, 1, 2, …

    >>> modelport.log_run("baseline", params={"max_depth": 5},      # doctest: +SKIP
    ...                   metrics={"accuracy": 0.93}, history={"loss": [0.9, 0.5, 0.3]})
    """
    ws = current(ws)
    run_id = uuid.uuid4().hex
    end = time.time()
    start = end - duration if start_time is None else start_time
    values = [MetricValue(_key(k), 0, _number(k, v)) for k, v in (metrics or {}).items()]
    values += [MetricValue(_key(k), step, _number(k, v))
               for k, series in (history or {}).items() for step, v in enumerate(series)]
    record = RunRecord(
        id=run_id, name=name or f"run-{run_id[:8]}", experiment=experiment, status=status,
        start_time=start, end_time=start + duration, duration=duration, dataset_digest=None,
        git_commit=git_commit(), packages=package_versions(),
        params={_key(k): _text(k, v, MAX_PARAM_VALUE, "param")
                for k, v in (params or {}).items()},
        tags={_key(k): _text(k, v, MAX_TAG_VALUE, "tag") for k, v in (tags or {}).items()})
    ws.store.runs.log_run(record, values, end)
    return run_id


def delete_run(run_id: str, ws: Workspace | None = None) -> None:
    current(ws).store.runs.delete_run(run_id)


def metric_history(run_id: str, key: str, ws: Workspace | None = None) -> list[tuple[int, float]]:
    """Every (step, value) of one metric of one run, in step order."""
    return current(ws).store.runs.metric_history(run_id, key)


_git_cache: dict[str, str | None] = {}


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The commit of the repository the code runs in, if it runs in one."""
    where = str(Path(cwd or Path.cwd()).resolve())
    if where not in _git_cache:
        try:
            out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                                 text=True, timeout=5, check=False)
            _git_cache[where] = out.stdout.strip() if out.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            _git_cache[where] = None
    return _git_cache[where]


_packages: dict[str, str] | None = None


def package_versions() -> dict[str, str]:
    global _packages
    if _packages is None:
        found = {}
        for name in TRACKED_PACKAGES:
            with suppress(importlib_metadata.PackageNotFoundError):
                found[name] = importlib_metadata.version(name)
        _packages = found
    return dict(_packages)
