"""FLAML AutoML on the benchmark split (run with benchmarks/automl/.venv)."""

from __future__ import annotations

from typing import Any

from common import SEED, main, splitter


def fit(X: Any, y: Any, task: str, metric: str, budget: float) -> tuple[Any, dict[str, Any]]:
    from flaml import AutoML

    automl = AutoML()
    automl.fit(X, y, task=task, metric=metric, time_budget=budget, eval_method="cv",
               split_type=splitter(task), n_jobs=1, seed=SEED, verbose=0)
    return automl.predict, {"cv_score": (1 - automl.best_loss) if metric in ("accuracy", "r2")
                            else automl.best_loss, "best": automl.best_estimator,
                            "candidates": len(automl.config_history)}


if __name__ == "__main__":
    main(fit)
