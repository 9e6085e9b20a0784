"""Registering many models in one call: a training job's per-store, per-customer or
per-series models ("many models"), or versions imported from elsewhere.

Each model is described and its blobs stored first, as ``register_model`` does;
then every version is recorded by one store call (``create_versions``): one
transaction and one commit — one request to a team server — instead of one per
version, and all or none. If it fails, no version is recorded; the blobs stored
for them stay until the collector (``modelport gc``) finds them unnamed and past
their grace period — another writer may have found them stored meanwhile.

>>> versions = modelport.register_models([                       # doctest: +SKIP
...     {"name": f"sales-{shop}", "model": model, "X": X, "metrics": {"mae": mae}}
...     for shop, (model, X, mae) in fitted.items()])
>>> [v.ref for v in versions]                                     # doctest: +SKIP
['sales-berlin:1', 'sales-paris:4']
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from modelport.core.store.registry import MAX_BATCH, Registration
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, TooLargeError
from modelport.lifecycle.refs import check_name
from modelport.lifecycle.registry import (
    ModelVersion,
    describe,
    store_artifacts,
    version_of,
)

REQUIRED = ("name", "model", "X")
OPTIONAL = ("sample", "metrics", "run_id", "dataset_digest", "description", "tags")


def register_models(models: Iterable[Mapping[str, Any]], ws: Workspace | None = None
                    ) -> list[ModelVersion]:
    """Register every model of ``models`` as the next version of its name, in one call:
    all are registered or none. Each is a mapping of ``register_model``'s arguments —
    ``name``, ``model``, ``X`` and optionally ``sample``, ``metrics``, ``run_id``,
    ``dataset_digest``, ``description``, ``tags``. A name given twice gets consecutive
    versions in the order given. Returns the versions in that order.

    At most ``MAX_BATCH`` (1,000) models a call; every one is checked before any is
    stored.
    """
    ws = current(ws)
    items = list(models)
    if len(items) > MAX_BATCH:
        raise TooLargeError(f"register_models takes at most {MAX_BATCH} models, not "
                            f"{len(items)} — split them into several calls")
    for i, item in enumerate(items):
        _check(i, item)
    batch: list[Registration] = []
    for i, item in enumerate(items):
        try:
            batch.append(_store(ws, item))
        except InvalidInputError as exc:
            raise InvalidInputError(f"models[{i}] ({item['name']}): {exc}") from exc
    now = time.time()
    numbers = ws.store.registry.create_versions(batch, now)
    return [version_of({**entry.version, "name": entry.name, "version": number, "onnx": None,
                        "created": now, "aliases": [], "tags": dict(entry.tags)})
            for entry, number in zip(batch, numbers, strict=True)]


def _store(ws: Workspace, item: Mapping[str, Any]) -> Registration:
    d = describe(item["model"], item["X"], item.get("sample"))
    return store_artifacts(
        ws, item["name"], d.format, d.data, d.signature, example=d.example, sample=d.sample,
        metrics=item.get("metrics"), run_id=item.get("run_id"),
        dataset_digest=item.get("dataset_digest"), description=item.get("description", ""),
        tags=item.get("tags"), profile=d.profile)


def _check(i: int, item: Any) -> None:
    """What ``models[i]`` must be, checked before anything is trained into bytes or stored."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"models[{i}] is a {type(item).__name__}, not a mapping of "
                                f"register_model's arguments ({', '.join(REQUIRED)}, ...)")
    missing = [k for k in REQUIRED if k not in item]
    unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        raise InvalidInputError(
            f"models[{i}]: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(map(str, unknown))}"] if unknown else []))
            + f" — each takes {', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)}")
    try:
        check_name(item["name"])
    except InvalidInputError as exc:
        raise InvalidInputError(f"models[{i}]: {exc}") from exc
