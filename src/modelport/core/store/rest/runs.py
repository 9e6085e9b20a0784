"""Runs over REST: ``RunsRepository`` as calls to ``/api/v1/runs``."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from modelport.core.store.rest.api import Api, segment
from modelport.core.store.runs import (
    Condition,
    DatasetRecord,
    MetricValue,
    RunPage,
    RunRecord,
    Term,
)


def _term(term: Term) -> dict[str, str]:
    return {"kind": term.kind, "key": term.key}


class RestRuns:
    def __init__(self, api: Api) -> None:
        self.api = api

    def create_run(self, run: RunRecord) -> None:
        self.api.call("POST", "/runs", dataclasses.asdict(run))

    def log_batch(self, run_id: str, params: Mapping[str, str], metrics: Sequence[MetricValue],
                  tags: Mapping[str, str], now: float) -> None:
        self.api.call("POST", f"/runs/{segment(run_id)}/batch", {
            "now": now, "params": dict(params), "tags": dict(tags),
            "metrics": [{"key": m.key, "step": m.step, "value": m.value} for m in metrics]})

    def log_run(self, run: RunRecord, metrics: Sequence[MetricValue], now: float) -> None:
        self.api.call("PUT", f"/runs/{segment(run.id)}", {
            "run": dataclasses.asdict(run), "now": now,
            "metrics": [{"key": m.key, "step": m.step, "value": m.value} for m in metrics]})

    def log_artifact(self, run_id: str, path: str, digest: str, size: int) -> None:
        self.api.call("POST", f"/runs/{segment(run_id)}/artifacts",
                      {"path": path, "digest": digest, "size": size})

    def log_dataset(self, run_id: str, dataset: DatasetRecord, now: float) -> None:
        self.api.call("POST", f"/runs/{segment(run_id)}/datasets",
                      {**dataset._asdict(), "now": now})

    def end_run(self, run_id: str, status: str, end_time: float, duration: float) -> None:
        self.api.call("POST", f"/runs/{segment(run_id)}/end",
                      {"status": status, "end_time": end_time, "duration": duration})

    def delete_run(self, run_id: str) -> None:
        self.api.call("DELETE", f"/runs/{segment(run_id)}")

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        rows = self.api.call("GET", f"/runs/{segment(run_id)}/metrics/{segment(key)}")
        return [(int(step), float(value)) for step, value in rows]

    def get_runs(self, ids: Collection[str]) -> list[RunRecord]:
        return [RunRecord(**r) for r in self.api.call("POST", "/runs/get", {"ids": list(ids)})]

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        return list(self.api.call("GET", "/runs/ids", prefix=prefix, limit=limit))

    def search(self, conditions: Sequence[Condition], ordering: Sequence[tuple[Term, bool]],
               experiment: str | None, max_results: int | None, page_token: str | None
               ) -> RunPage:
        page = self.api.call("POST", "/runs/search", {
            "conditions": [{"term": _term(c.term), "op": c.op, "value": c.value}
                           for c in conditions],
            "ordering": [{"term": _term(t), "descending": d} for t, d in ordering],
            "experiment": experiment, "max_results": max_results, "page_token": page_token})
        return RunPage([RunRecord(**r) for r in page["runs"]], page["next_page_token"])
