"""The store as a client of ``modelport server``: ``open_store("http(s)://…")``.

Runs and the registry go over the server's REST API with the key in
``MODELPORT_TOKEN``; each method is one HTTP call, the server's JSON error comes
back as the same ``ModelportError`` class. The other repositories are not
served yet and say so on first use. Artifacts through the server are a later step.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from modelport.core.store.endpoints import EndpointsRepository
from modelport.core.store.jobs import JobsRepository
from modelport.core.store.keys import KeysRepository
from modelport.core.store.registry import Model, NewVersion, VersionRecord
from modelport.core.store.runs import (
    Condition,
    DatasetRecord,
    MetricValue,
    RunPage,
    RunRecord,
    Term,
)
from modelport.core.store.stats import StatsRepository
from modelport.core.store.streams import StreamsRepository
from modelport.core.store.text import redact
from modelport.errors import (
    InvalidInputError,
    StoreUnavailableError,
    first_line,
    from_code,
    require,
)

TOKEN_ENV = "MODELPORT_TOKEN"
TIMEOUT_S = 30.0


class Api:
    """One HTTP connection pool to the server; JSON in, JSON out, errors re-raised."""

    def __init__(self, url: str, token: str | None) -> None:
        httpx = require("httpx", "server")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = redact(url)
        self.client = httpx.Client(base_url=url.rstrip("/") + "/api/v1", headers=headers,
                                   timeout=TIMEOUT_S)
        self._transport_error = httpx.TransportError

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self.client.request(method, path, json=body, params=params or None)
        except self._transport_error as exc:
            raise StoreUnavailableError(
                f"modelport server at {self.url} did not answer: {first_line(exc)}") from exc
        data = response.json() if response.content else None
        if response.status_code >= 400:
            if isinstance(data, dict) and "error" in data:
                raise from_code(str(data.get("code")), str(data["error"]), response.status_code)
            raise StoreUnavailableError(f"modelport server at {self.url} answered "
                                        f"{response.status_code}")
        return data


def _segment(text: str) -> str:
    return quote(text, safe="")


def _term(term: Term) -> dict[str, str]:
    return {"kind": term.kind, "key": term.key}


class RestRuns:
    def __init__(self, api: Api) -> None:
        self.api = api

    def create_run(self, run: RunRecord) -> None:
        self.api.call("POST", "/runs", dataclasses.asdict(run))

    def log_batch(self, run_id: str, params: Mapping[str, str], metrics: Sequence[MetricValue],
                  tags: Mapping[str, str], now: float) -> None:
        self.api.call("POST", f"/runs/{_segment(run_id)}/batch", {
            "now": now, "params": dict(params), "tags": dict(tags),
            "metrics": [{"key": m.key, "step": m.step, "value": m.value} for m in metrics]})

    def log_artifact(self, run_id: str, path: str, digest: str, size: int) -> None:
        self.api.call("POST", f"/runs/{_segment(run_id)}/artifacts",
                      {"path": path, "digest": digest, "size": size})

    def log_dataset(self, run_id: str, dataset: DatasetRecord, now: float) -> None:
        self.api.call("POST", f"/runs/{_segment(run_id)}/datasets",
                      {**dataset._asdict(), "now": now})

    def end_run(self, run_id: str, status: str, end_time: float, duration: float) -> None:
        self.api.call("POST", f"/runs/{_segment(run_id)}/end",
                      {"status": status, "end_time": end_time, "duration": duration})

    def delete_run(self, run_id: str) -> None:
        self.api.call("DELETE", f"/runs/{_segment(run_id)}")

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        rows = self.api.call("GET", f"/runs/{_segment(run_id)}/metrics/{_segment(key)}")
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


class RestRegistry:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _model(self, name: str) -> str:
        return f"/models/{_segment(name)}"

    def create_version(self, name: str, version: NewVersion, tags: Mapping[str, str],
                       now: float, number: int | None = None) -> int:
        body = {"version": version, "tags": dict(tags), "now": now, "number": number}
        return int(self.api.call("POST", f"{self._model(name)}/versions", body)["version"])

    def referenced_digests(self, digests: Collection[str]) -> set[str]:
        return set(self.api.call("POST", "/registry/digests/referenced",
                                 {"digests": list(digests)}))

    def has_model(self, name: str) -> bool:
        return bool(self.api.call("GET", f"{self._model(name)}/exists"))

    def pick_version(self, name: str, aliases: Sequence[str], latest: bool) -> int | None:
        picked = self.api.call("POST", f"{self._model(name)}/pick",
                               {"aliases": list(aliases), "latest": latest})["version"]
        return None if picked is None else int(picked)

    def get_version(self, name: str, version: int) -> VersionRecord:
        path = f"{self._model(name)}/versions/{int(version)}"
        return self.api.call("GET", path)  # type: ignore[no-any-return]

    def list_versions(self, name: str) -> list[VersionRecord]:
        return list(self.api.call("GET", f"{self._model(name)}/versions"))

    def list_models(self) -> list[Model]:
        return [Model(**m) for m in self.api.call("GET", "/models")]

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.api.call("PUT", f"{self._model(name)}/aliases/{_segment(alias)}",
                      {"version": version})

    def delete_alias(self, name: str, alias: str) -> None:
        self.api.call("DELETE", f"{self._model(name)}/aliases/{_segment(alias)}")

    def set_tag(self, name: str, version: int, key: str, value: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/tags/{_segment(key)}",
                      {"value": value})

    def find_tag(self, key: str) -> tuple[str, int, str] | None:
        found = self.api.call("GET", f"/registry/tags/{_segment(key)}")
        return None if found is None else (found["name"], int(found["version"]), found["value"])

    def set_description(self, name: str, version: int | None, description: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/description",
                      {"version": version, "description": description})

    def set_onnx(self, name: str, version: int, onnx: dict[str, Any]) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/onnx", onnx)

    def set_profile(self, name: str, version: int, digest: str) -> None:
        self.api.call("PUT", f"{self._model(name)}/versions/{int(version)}/profile",
                      {"value": digest})

    def delete_model(self, name: str) -> None:
        self.api.call("DELETE", self._model(name))

    def delete_version(self, name: str, version: int) -> None:
        self.api.call("DELETE", f"{self._model(name)}/versions/{int(version)}")


class RestStore:
    """Runs and the registry of a ``modelport server``; the rest is not served yet."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.api = Api(url, token if token is not None else os.environ.get(TOKEN_ENV))
        self.runs = RestRuns(self.api)
        self.registry = RestRegistry(self.api)

    def close(self) -> None:
        """Close the connections to the server."""
        self.api.client.close()

    def _not_served(self, what: str) -> InvalidInputError:
        return InvalidInputError(
            f"{what} are not served by modelport server yet ({self.api.url}) — use a "
            "sqlite:// or postgresql+psycopg:// URL for them for now")

    @property
    def keys(self) -> KeysRepository:
        raise self._not_served("API keys")

    @property
    def jobs(self) -> JobsRepository:
        raise self._not_served("jobs")

    @property
    def streams(self) -> StreamsRepository:
        raise self._not_served("streams")

    @property
    def endpoints(self) -> EndpointsRepository:
        raise self._not_served("endpoints and rollouts")

    @property
    def stats(self) -> StatsRepository:
        raise self._not_served("serving stats")
