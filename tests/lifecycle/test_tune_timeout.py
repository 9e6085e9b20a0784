"""``timeout`` bounds the whole tune call: the search stops in time for the refit."""

from __future__ import annotations

import time

import pytest

from modelport.core.workspace import Workspace
from modelport.lifecycle.tune import REFIT_SECONDS, tune

pytest.importorskip("optuna")

FOREST = {"n_estimators": {"type": "int", "low": 20, "high": 60},
          "max_depth": {"type": "int", "low": 2, "high": 8}}


@pytest.mark.storage_independent
@pytest.mark.parametrize("name", ["wine", None])
def test_the_refit_and_registering_fit_in_the_timeout(ws: Workspace, backend: str,
                                                      name: str | None) -> None:
    timeout = 6.0
    started = time.time()
    result = tune("sklearn:wine", "target", "random_forest", space=FOREST, trials=None,
                  timeout=timeout, cv=3, name=name, ws=ws)
    wall = time.time() - started
    assert result.counts["complete"] >= 2  # it searched, and then stopped on time
    assert wall <= timeout + 0.5, (wall, result.counts)  # 0.5 s: a busy machine's jitter
    assert result.seconds == pytest.approx(wall, abs=0.05)
    assert (result.version is not None) == (name is not None)
    if name is None:  # nothing to refit: the search may use the whole budget
        assert wall >= timeout - REFIT_SECONDS
