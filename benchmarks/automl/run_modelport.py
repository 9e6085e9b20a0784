"""modelport automl on the benchmark split (run with modelport's venv)."""

from __future__ import annotations

import tempfile
from typing import Any

from common import FOLDS, SEED, main


def fit(X: Any, y: Any, task: str, metric: str, budget: float) -> tuple[Any, dict[str, Any]]:
    from modelport.config import Settings
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.automl import automl
    from modelport.lifecycle.datasets import Dataset, digest_frame
    from modelport.lifecycle.loading import load

    frame = X.assign(target=y.to_numpy())
    ws = Workspace.open(Settings(home=tempfile.mkdtemp(prefix="mp-automl-")))
    result = automl(Dataset("bench", frame, digest_frame(frame)), "target", budget,
                    metric=metric, cv=FOLDS, seed=SEED, test_size=0, name="bench", ws=ws)
    # the registered model, as it serves: it takes text columns as they are
    return load("bench", ws=ws).predict, {
        "cv_score": result.best.score, "best": result.best.family,
        "candidates": len(result.leaderboard)}


if __name__ == "__main__":
    main(fit)
