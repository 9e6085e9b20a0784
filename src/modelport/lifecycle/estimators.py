"""Which estimators ``modelport train`` knows, by short name or import path.

A short name stands for a family (``random_forest``); the task detected from
the target picks its classifier or regressor. Import paths are limited to
scikit-learn, LightGBM and XGBoost: those are the families modelport can store
safely and convert to ONNX.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from modelport.core.formats.base import module_of
from modelport.errors import InvalidInputError, MissingDependencyError
from modelport.lifecycle.preprocessing import Features, wrap

# short name -> (classifier path, regressor path)
ESTIMATORS: dict[str, tuple[str | None, str | None]] = {
    "logistic_regression": ("sklearn.linear_model.LogisticRegression", None),
    "linear_regression": (None, "sklearn.linear_model.LinearRegression"),
    "ridge": ("sklearn.linear_model.RidgeClassifier", "sklearn.linear_model.Ridge"),
    "lasso": (None, "sklearn.linear_model.Lasso"),
    "elastic_net": (None, "sklearn.linear_model.ElasticNet"),
    "sgd": ("sklearn.linear_model.SGDClassifier", "sklearn.linear_model.SGDRegressor"),
    "decision_tree": ("sklearn.tree.DecisionTreeClassifier", "sklearn.tree.DecisionTreeRegressor"),
    "random_forest": ("sklearn.ensemble.RandomForestClassifier",
                      "sklearn.ensemble.RandomForestRegressor"),
    "extra_trees": ("sklearn.ensemble.ExtraTreesClassifier",
                    "sklearn.ensemble.ExtraTreesRegressor"),
    "gradient_boosting": ("sklearn.ensemble.GradientBoostingClassifier",
                          "sklearn.ensemble.GradientBoostingRegressor"),
    "hist_gradient_boosting": ("sklearn.ensemble.HistGradientBoostingClassifier",
                               "sklearn.ensemble.HistGradientBoostingRegressor"),
    "knn": ("sklearn.neighbors.KNeighborsClassifier", "sklearn.neighbors.KNeighborsRegressor"),
    "svm": ("sklearn.svm.SVC", "sklearn.svm.SVR"),
    "naive_bayes": ("sklearn.naive_bayes.GaussianNB", None),
    "mlp": ("sklearn.neural_network.MLPClassifier", "sklearn.neural_network.MLPRegressor"),
    "lightgbm": ("lightgbm.LGBMClassifier", "lightgbm.LGBMRegressor"),
    "xgboost": ("xgboost.XGBClassifier", "xgboost.XGBRegressor"),
}

# families that need standardised inputs to converge or to measure distances fairly:
# their short names train as StandardScaler → estimator
SCALED = {"logistic_regression", "sgd", "knn", "svm", "mlp", "lasso", "elastic_net"}

THREADS_ABOVE = 20_000  # training rows from which fits may use every core
OPENMP_ALL_CORES = {"lightgbm", "xgboost"}  # libraries whose fits take every core by default
_ALLOWED_ROOTS = {"sklearn": "all", "lightgbm": "lightgbm", "xgboost": "xgboost"}


def resolve(name: str, task: str) -> type:
    """The estimator class for ``name`` (short name or import path) and ``task``."""
    if name in ESTIMATORS:
        classifier, regressor = ESTIMATORS[name]
        path = classifier if task == "classification" else regressor
        if path is None:
            other = "regression" if task == "classification" else "classification"
            raise InvalidInputError(
                f"estimator {name!r} does only {other}, but the target looks like {task}"
            )
    elif "." in name:
        path = name
    else:
        raise InvalidInputError(
            f"unknown estimator {name!r} — use a short name ({', '.join(sorted(ESTIMATORS))}) "
            "or an import path such as sklearn.ensemble.RandomForestClassifier"
        )
    return _import(path)


def _import(path: str) -> type:
    module_name, _, attr = path.rpartition(".")
    root = module_name.split(".")[0]
    if root not in _ALLOWED_ROOTS:
        raise InvalidInputError(
            f"estimator {path!r} is not from scikit-learn, LightGBM or XGBoost — "
            "modelport trains only those (register other models with modelport.register_model)"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == root:
            raise MissingDependencyError(root, _ALLOWED_ROOTS[root]) from exc
        raise InvalidInputError(f"unknown estimator {path!r}: no module {module_name!r}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type) or not hasattr(cls, "fit"):
        raise InvalidInputError(f"unknown estimator {path!r}: {attr!r} is not an estimator class")
    return cls


def threads_for(rows: int) -> int:
    """OpenMP/joblib threads for a fit on ``rows`` rows: one below ``THREADS_ABOVE``.

    On small data threads cost more than they save, and on a busy machine
    LightGBM's and XGBoost's OpenMP threads spin — measured here, a default
    LightGBM fit on breast_cancer took 14 s with all threads, 0.12 s with one.
    """
    return 1 if rows < THREADS_ABOVE else -1


def build(name: str, task: str, params: Mapping[str, Any], seed: int = 0,
          features: Features | None = None, scale: bool | None = None,
          rows: int | None = None) -> Any:
    """A ready-to-fit estimator: modelport's defaults, then ``params`` on top.

    Short names in ``SCALED`` (or ``scale=True``) are scaled first; ``features``
    (category columns, missing values) add the preprocessing of
    ``preprocessing.wrap``. ``params`` always apply to the estimator itself.
    With ``rows`` (the training rows) below ``THREADS_ABOVE``, LightGBM and
    XGBoost (whose default is every core) fit on one thread unless ``params`` say
    otherwise; scikit-learn's estimators already default to one.
    """
    est = resolve(name, task)()
    available = est.get_params()
    defaults: dict[str, Any] = {}
    if "random_state" in available:
        defaults["random_state"] = seed
    library = module_of(est)
    if library == "lightgbm":
        defaults["verbose"] = -1
    if name == "logistic_regression":
        defaults["max_iter"] = 1000
    if rows is not None and library in OPENMP_ALL_CORES and threads_for(rows) == 1:
        defaults["n_jobs"] = 1
    unknown = sorted(set(params) - set(available))
    if unknown:
        raise InvalidInputError(
            f"unknown parameter {unknown[0]!r} for {type(est).__name__} — valid ones: "
            f"{', '.join(sorted(available))}")
    est.set_params(**{**defaults, **params})
    return wrap(name, est, features, name in SCALED if scale is None else scale)


def final_step(est: Any) -> Any:
    """The estimator itself, inside a pipeline or not."""
    steps = getattr(est, "steps", None)
    return steps[-1][1] if steps else est


def task_of(estimator: Any) -> str | None:
    """'classification' / 'regression' as the estimator declares itself, if it does."""
    tags = getattr(estimator, "__sklearn_tags__", None)
    if tags is not None:
        try:
            kind = tags().estimator_type
        except Exception:  # third-party estimators with incomplete tags
            kind = getattr(estimator, "_estimator_type", None)
    else:
        kind = getattr(estimator, "_estimator_type", None)
    return {"classifier": "classification", "regressor": "regression"}.get(kind or "")
