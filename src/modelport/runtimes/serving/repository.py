"""The models and endpoints a server holds: loaded, digest-checked, warmed, found by name.

Each served model name keeps the reference it was asked for
(``iris@champion``); ``/v2/models/iris/versions/3`` loads version 3 of a
served name on first use. Endpoints are followed live: a poll of their
revisions notices a policy change, every version the new policy needs is
loaded and warmed *first*, and only then is the endpoint's router swapped —
a request never meets a cold or missing version (KServe's weight-0 lesson).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from modelport.config import DEFAULT_RUNTIME
from modelport.core.formats import get_format
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.endpoints import Endpoint, get_endpoint, list_endpoints, revisions
from modelport.lifecycle.loading import load, load_sample
from modelport.lifecycle.refs import Ref, parse_ref
from modelport.lifecycle.registry import ModelVersion, get_version, list_models
from modelport.runtimes.serving.auth import ForbiddenError
from modelport.runtimes.serving.batching import Batcher
from modelport.runtimes.serving.routing import EndpointRouter
from modelport.runtimes.serving.served import Served

UNUSED_GRACE_S = 60.0  # a version no policy needs stays loaded this long (instant rollback)


@dataclass(frozen=True)
class ServeOptions:
    runtime: str = DEFAULT_RUNTIME
    max_batch: int = 256
    batching: bool = True


@dataclass(frozen=True)
class Plan:
    """What a server was asked to serve, every reference resolved."""

    versions: list[ModelVersion]
    endpoints: list[Endpoint]
    endpoint_filter: set[str] | None  # None: every endpoint, also ones created later


def resolve(refs: list[str] | None, ws: Workspace | None = None) -> Plan:
    """Resolve what to serve: ``refs`` (model references or endpoint names), or, when
    None, every model's champion (else latest version) and every endpoint — forecast
    models aside: they answer a horizon (``modelport forecast predict``), not rows.

    The CLI calls it before announcing a server, so a bad reference is one error line
    instead of a banner followed by a failure in every worker; and an empty workspace
    is refused instead of a server that answers 404 to everything."""
    ws = current(ws)
    endpoints = {e.name: e for e in list_endpoints(ws=ws)}
    if refs is None:
        versions = [v for v in (get_version(Ref(m.name), ws=ws) for m in list_models(ws=ws)
                                if m.versions) if get_format(v.format).predicts]
        if not versions and not endpoints:
            raise NotFoundError(
                f"nothing to serve: the workspace {ws.settings.home} has no model — train one "
                "with 'modelport train' (or 'modelport quickstart'), or set MODELPORT_HOME")
        return Plan(versions, list(endpoints.values()), None)
    named = [text for text in refs if text in endpoints]
    versions = [get_version(parse_ref(text), ws=ws) for text in refs if text not in endpoints]
    return Plan(versions, [endpoints[name] for name in named], set(named))


class Repository:
    def __init__(self, refs: list[str] | None, options: ServeOptions | None = None,
                 ws: Workspace | None = None,
                 on_load: Callable[[Served], None] | None = None) -> None:
        self.on_load = on_load
        self.ws = current(ws)
        self.options = options or ServeOptions()
        self._refs = refs
        self._models: dict[str, Served] = {}
        self._versions: dict[str, Served] = {}  # NAME:VERSION -> loaded version
        self._unused_since: dict[str, float] = {}
        self.routers: dict[str, EndpointRouter] = {}
        self._endpoint_filter: set[str] | None = None
        self._lock = threading.RLock()
        self.ready = False

    # ------------------------------------------------------------ loading

    def load_all(self) -> None:
        plan = resolve(self._refs, self.ws)
        self._endpoint_filter = plan.endpoint_filter
        for version in plan.versions:
            self._models[version.name] = self._version(version)
        for endpoint in plan.endpoints:
            self._install(endpoint)
        self.ready = True

    def _version(self, version: ModelVersion) -> Served:
        label = f"{version.name}:{version.version}"
        with self._lock:
            served = self._versions.get(label)
            if served is None:
                served = self._versions[label] = self._load(version)
            return served

    def _load(self, version: ModelVersion) -> Served:
        predictor = load(Ref(version.name, version=version.version),
                         runtime=self.options.runtime, ws=self.ws)
        batcher = Batcher(predictor, max_batch=self.options.max_batch,
                          enabled=self.options.batching)
        if version.input_example:
            batcher.warm(predictor.matrix(version.input_example))
        else:
            sample = load_sample(version, ws=self.ws)
            if sample is not None:
                batcher.warm(predictor.matrix(np.asarray(sample)))
        served = Served(version.name, version.version, predictor.runtime, version, predictor,
                        batcher)
        if self.on_load is not None:
            self.on_load(served)
        return served

    def _install(self, endpoint) -> None:  # type: ignore[no-untyped-def]
        """Load what the endpoint's policy needs, then switch its router in one assignment."""
        versions: Mapping[str, Served] = {
            label: self._version(get_version(label, ws=self.ws))
            for label in endpoint.policy.versions()}
        self.routers[endpoint.name] = EndpointRouter(endpoint, versions)

    def refresh_endpoints(self) -> bool:
        """Follow endpoint changes; True when a router changed. Called when the store's
        watch says something changed."""
        changed = False
        current_revisions = revisions(ws=self.ws)
        for name, revision in current_revisions.items():
            if self._endpoint_filter is not None and name not in self._endpoint_filter:
                continue
            router = self.routers.get(name)
            if router is None or router.revision != revision:
                self._install(get_endpoint(name, ws=self.ws))
                changed = True
        for name in [n for n in self.routers if n not in current_revisions]:
            del self.routers[name]
            changed = True
        self.release_unused()
        return changed

    def release_unused(self) -> None:
        """Unload the versions no policy has needed for ``UNUSED_GRACE_S``."""
        needed = {s.label for s in self._models.values()}
        for router in self.routers.values():
            needed.update(router.policy.versions())
        now = time.monotonic()
        with self._lock:
            for label in list(self._versions):
                if label in needed:
                    self._unused_since.pop(label, None)
                elif now - self._unused_since.setdefault(label, now) > UNUSED_GRACE_S:
                    self._versions.pop(label).batcher.close()
                    del self._unused_since[label]

    # ------------------------------------------------------------ finding

    @property
    def names(self) -> list[str]:
        return sorted({*self._models, *self.routers})

    def all(self) -> list[Served]:
        return list(self._versions.values())

    def endpoint_versions(self) -> dict[str, set[str]]:
        return {name: set(r.policy.versions()) for name, r in self.routers.items()}

    def get(self, name: str, headers: Mapping[str, str] | None = None
            ) -> tuple[Served, EndpointRouter | None]:
        """The version that answers ``name`` (an endpoint routes per request)."""
        router = self.routers.get(name)
        if router is not None:
            return router.choose(headers or {}), router
        served = self._models.get(name)
        if served is None:
            raise self._unknown(name)
        return served, None

    def _unknown(self, name: str) -> NotFoundError:
        return NotFoundError(f"model {name!r} is not served here — served: "
                             f"{', '.join(self.names) or 'none'}")

    def pinned(self, name: str, version: int, any_version: bool = True
               ) -> tuple[str, Served | None]:
        """Version ``version`` of a served name: its label, and the version when it is
        loaded already (else the caller loads it with ``load`` — off the event loop).

        Behind an endpoint only the versions of its policy answer unless ``any_version``
        (an admin key, or a server without keys): a pinned URL must not reach around a
        rollout, nor load every version ever registered."""
        router = self.routers.get(name)
        if router is not None:
            label = f"{router.model}:{version}"
            if not any_version and label not in router.versions:
                raise ForbiddenError(
                    f"version {version} is not in endpoint {name!r}'s policy — call "
                    f"/v2/models/{name}/infer, or use an admin key to reach other versions")
        else:
            served = self._models.get(name)
            if served is None:
                raise self._unknown(name)
            label = f"{served.name}:{version}"
        return label, self._versions.get(label)

    def load(self, label: str) -> Served:
        """Load (or find) a version by its label. Blocking: call it off the event loop."""
        return self._version(get_version(label, ws=self.ws))

    def only(self, headers: Mapping[str, str] | None = None
             ) -> tuple[Served, EndpointRouter | None]:
        """The single served model or endpoint, for protocols without a name (/invocations)."""
        names = self.names
        if len(names) != 1:
            raise InvalidInputError(
                f"/invocations needs exactly one served model or endpoint, this server has "
                f"{len(names)} — use /v2/models/NAME/infer or /v1/models/NAME:predict")
        return self.get(names[0], headers)

    def close(self) -> None:
        for served in self._versions.values():
            served.batcher.close()
