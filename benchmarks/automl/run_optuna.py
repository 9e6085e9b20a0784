"""Plain Optuna TPE on one LightGBM model, same folds (run with modelport's venv)."""

from __future__ import annotations

import time
from typing import Any

from common import SEED, main, splitter


def fit(X: Any, y: Any, task: str, metric: str, budget: float) -> tuple[Any, dict[str, Any]]:
    import lightgbm as lgb
    import optuna
    from sklearn.model_selection import cross_val_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    cls = lgb.LGBMClassifier if task == "classification" else lgb.LGBMRegressor
    folds = list(splitter(task).split(X, y))

    def objective(trial: Any) -> float:
        params = {
            "n_estimators": trial.suggest_int("n_estimators", 20, 500, log=True),
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 2, 50, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "subsample_freq": trial.suggest_categorical("subsample_freq", [0, 1]),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        }
        model = cls(**params, n_jobs=1, verbose=-1, random_state=SEED)
        return float(cross_val_score(model, X, y, cv=folds, scoring=metric).mean())

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=SEED))
    # leave time for the final refit, as the AutoML systems do
    study.optimize(objective, timeout=max(budget - (time.perf_counter() - started) - 1, 0.1))
    best = cls(**study.best_params, n_jobs=1, verbose=-1, random_state=SEED).fit(X, y)
    return best.predict, {"cv_score": study.best_value, "best": "lightgbm",
                          "candidates": len(study.trials)}


if __name__ == "__main__":
    main(fit)
