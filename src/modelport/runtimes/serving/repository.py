"""The models a server holds: loaded, digest-checked, warmed, and found by name.

Each served name keeps the reference it was asked for (``iris@champion``);
``/v2/models/iris/versions/3`` loads version 3 of a served name on first use.
Loading happens once per process, before the server reports ready.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelport.core.formats.base import Predictor
from modelport.core.workspace import Workspace, current
from modelport.errors import NotFoundError
from modelport.lifecycle.loading import load, load_sample
from modelport.lifecycle.refs import Ref, parse_ref
from modelport.lifecycle.registry import ModelVersion, get_version, list_models
from modelport.runtimes.serving.batching import Batcher


@dataclass
class Served:
    name: str
    version: int
    runtime: str
    model: ModelVersion
    predictor: Predictor
    batcher: Batcher

    @property
    def label(self) -> bytes:
        """The value of the header that tells a client which version answered."""
        return f"{self.name}:{self.version}".encode()


@dataclass(frozen=True)
class ServeOptions:
    runtime: str = "auto"  # auto: the checked ONNX copy when there is one
    max_batch: int = 256
    batching: bool = True


class Repository:
    def __init__(self, refs: list[str] | None, options: ServeOptions | None = None,
                 ws: Workspace | None = None,
                 on_load: Callable[[Served], None] | None = None) -> None:
        self.on_load = on_load
        self.ws = current(ws)
        self.options = options or ServeOptions()
        self._refs = [parse_ref(r) for r in refs] if refs else None
        self._default: dict[str, Served] = {}
        self._pinned: dict[tuple[str, int], Served] = {}
        self._lock = threading.Lock()
        self.ready = False

    def load_all(self) -> None:
        refs = self._refs if self._refs is not None else [
            Ref(m.name) for m in list_models(ws=self.ws) if m.versions]
        for ref in refs:
            served = self._load(ref)
            self._default[ref.name] = served
            self._pinned[(served.name, served.version)] = served
        self.ready = True

    def _load(self, ref: Ref) -> Served:
        version = get_version(ref, ws=self.ws)
        predictor = load(Ref(version.name, version=version.version),
                         runtime=self.options.runtime, ws=self.ws)
        batcher = Batcher(predictor, max_batch=self.options.max_batch,
                          enabled=self.options.batching)
        sample = load_sample(version, ws=self.ws)
        if version.input_example:
            batcher.warm(version.signature.to_matrix(version.input_example))
        elif sample is not None:
            batcher.warm(np.asarray(sample))
        served = Served(version.name, version.version, predictor.runtime, version, predictor,
                        batcher)
        if self.on_load is not None:
            self.on_load(served)
        return served

    @property
    def names(self) -> list[str]:
        return sorted(self._default)

    def all(self) -> list[Served]:
        return list(self._pinned.values())

    def get(self, name: str, version: int | None = None) -> Served:
        served = self._default.get(name)
        if served is None:
            raise NotFoundError(f"model {name!r} is not served here — served: "
                                f"{', '.join(self.names) or 'none'}")
        if version is None or version == served.version:
            return served
        pinned = self._pinned.get((name, version))
        if pinned is None:
            with self._lock:
                pinned = self._pinned.get((name, version))
                if pinned is None:
                    pinned = self._pinned[(name, version)] = self._load(Ref(name, version=version))
        return pinned

    def only(self) -> Served:
        """The single served model, for protocols without a model name (/invocations)."""
        if len(self._default) != 1:
            from modelport.errors import InvalidInputError

            raise InvalidInputError(
                f"/invocations needs exactly one served model, this server has "
                f"{len(self._default)} — use /v2/models/NAME/infer or /v1/models/NAME:predict")
        return next(iter(self._default.values()))

    def close(self) -> None:
        for served in self._pinned.values():
            served.batcher.close()
