"""Two writers of the same bytes: the blob one of them finds stored must still be there when
its version is recorded — whatever the other writer's registration does meanwhile.

The steps are driven in order, on real stores: writer A stores blob X; writer B's
registration finds X already stored and stops just before recording its version; A's
registration then fails (its name is another project's); B records its version, naming X.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError
from modelport.lifecycle.gc import collect_garbage
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import ModelVersion, describe, register_artifact

X, Y = load_iris(return_X_y=True, as_frame=True)
HOUR = 3600.0


class Paused:
    """A registry whose ``create_version`` runs ``before`` first: the moment between a
    registration's stored blobs and its record, made to last as long as a test needs."""

    def __init__(self, inner: Any, before: Callable[[], None]) -> None:
        self.inner, self.before = inner, before

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_version(self, *args: Any, **kwargs: Any) -> int:
        self.before()
        return self.inner.create_version(*args, **kwargs)  # type: ignore[no-any-return]


def _paused(ws: Workspace, before: Callable[[], None]) -> Workspace:
    ws.store.registry = Paused(ws.store.registry, before)  # type: ignore[misc]
    return ws


def test_a_failed_registration_leaves_the_blob_another_writer_found(
        ws: Workspace, settings: Settings) -> None:
    model = describe(LogisticRegression(C=2.0, max_iter=300).fit(X, Y), X, None)
    register_artifact("iris", model.format, b"other bytes" * 100, model.signature, ws=ws)
    found, recorded = threading.Event(), threading.Event()
    b_version: list[ModelVersion] = []

    def writer_b() -> None:  # default project: "spare", the same bytes as A's
        def wait() -> None:
            found.set()  # B's blobs are stored (found already there): A may fail now
            assert recorded.wait(30)
        b_ws = _paused(Workspace.open(settings), wait)
        b_version.append(register_artifact("spare", model.format, model.data,
                                           model.signature, ws=b_ws))

    b = threading.Thread(target=writer_b)

    def start_b() -> None:  # A's blob X is stored; B finds it, then waits
        b.start()
        assert found.wait(30)

    a_ws = _paused(Workspace.open(dataclasses.replace(settings, project="a")), start_b)
    with pytest.raises(ConflictError, match="iris"):  # project default holds "iris"
        register_artifact("iris", model.format, model.data, model.signature, ws=a_ws)
    recorded.set()
    b.join(30)
    [spare] = b_version
    assert ws.artifacts.exists(spare.artifact_digest)
    assert load("spare:1", ws=ws).predict(X.head(3)).shape[0] == 3


def test_a_collection_leaves_the_old_blob_a_writer_just_found(
        ws: Workspace, settings: Settings) -> None:
    """The same race with the collector in A's place: an old blob no record names (a failed
    registration's) is found by writer B, and a collection runs before B records it."""
    model = describe(LogisticRegression(C=3.0, max_iter=300).fit(X, Y), X, None)
    digest = ws.artifacts.put(model.data)
    then = time.time() - 2 * HOUR
    for path in Path(ws.settings.artifacts_url).rglob("*"):
        os.utime(path, (then, then))
    assert collect_garbage(HOUR, dry_run=True, ws=ws).deleted == [digest]  # due to go

    def collect() -> None:  # B found the blob stored; the collector runs before B records
        assert collect_garbage(HOUR, ws=ws).deleted == []

    found = register_artifact("spare", model.format, model.data, model.signature,
                              ws=_paused(Workspace.open(settings), collect))
    assert found.artifact_digest == digest
    assert load("spare:1", ws=ws).predict(X.head(3)).shape[0] == 3
