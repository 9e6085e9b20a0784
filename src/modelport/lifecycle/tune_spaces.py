"""Search spaces: a small YAML (or JSON) file, or a built-in preset per estimator.

A space maps an estimator parameter to how it is sampled::

    n_estimators: {type: int, low: 50, high: 400, log: true}
    max_depth: {type: int, low: 2, high: 16}
    criterion: [gini, entropy]          # a list is a categorical choice

Spaces are checked before a study starts — an unknown type, ``low >= high``
or a parameter the estimator does not have is a one-line error, so no study
(and nothing registered) comes out of a bad file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError, first_line


@dataclass(frozen=True)
class Param:
    """One searchable parameter: ``int`` / ``float`` in [low, high], or ``categorical``."""

    name: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low or 0), int(self.high or 0),
                                     log=self.log)
        if self.type == "float":
            return trial.suggest_float(self.name, float(self.low or 0), float(self.high or 0),
                                       log=self.log)
        return trial.suggest_categorical(self.name, list(self.choices))

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        return {"type": self.type, "low": self.low, "high": self.high, "log": self.log}


Space = dict[str, Param]

_TREES = {"n_estimators": {"type": "int", "low": 20, "high": 300, "log": True},
          "max_depth": {"type": "int", "low": 2, "high": 20},
          "min_samples_leaf": {"type": "int", "low": 1, "high": 20, "log": True},
          "max_features": {"type": "float", "low": 0.1, "high": 1.0}}
_BOOSTED = {"n_estimators": {"type": "int", "low": 20, "high": 500, "log": True},
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
            "max_depth": {"type": "int", "low": 2, "high": 10},
            "subsample": {"type": "float", "low": 0.5, "high": 1.0},
            "colsample_bytree": {"type": "float", "low": 0.4, "high": 1.0}}

PRESETS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": {"type": "float", "low": 1e-3, "high": 100, "log": True}},
    "ridge": {"alpha": {"type": "float", "low": 1e-3, "high": 100, "log": True}},
    "lasso": {"alpha": {"type": "float", "low": 1e-4, "high": 10, "log": True}},
    "elastic_net": {"alpha": {"type": "float", "low": 1e-4, "high": 10, "log": True},
                    "l1_ratio": {"type": "float", "low": 0.0, "high": 1.0}},
    "knn": {"n_neighbors": {"type": "int", "low": 1, "high": 50, "log": True},
            "weights": ["uniform", "distance"]},
    "svm": {"C": {"type": "float", "low": 1e-2, "high": 100, "log": True},
            "gamma": {"type": "float", "low": 1e-4, "high": 1, "log": True}},
    "decision_tree": {"max_depth": {"type": "int", "low": 1, "high": 20},
                      "min_samples_leaf": {"type": "int", "low": 1, "high": 30, "log": True}},
    "random_forest": _TREES,
    "extra_trees": _TREES,
    "gradient_boosting": {k: v for k, v in _BOOSTED.items() if k != "colsample_bytree"},
    "hist_gradient_boosting": {
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "max_leaf_nodes": {"type": "int", "low": 4, "high": 128, "log": True},
        "l2_regularization": {"type": "float", "low": 1e-6, "high": 10, "log": True}},
    "lightgbm": {**_BOOSTED, "max_depth": {"type": "int", "low": -1, "high": 12},
                 "num_leaves": {"type": "int", "low": 4, "high": 128, "log": True},
                 "min_child_samples": {"type": "int", "low": 2, "high": 50, "log": True},
                 "subsample_freq": [0, 1]},
    "xgboost": {**_BOOSTED, "min_child_weight": {"type": "float", "low": 0.1, "high": 10,
                                                 "log": True}},
}


def preset(estimator: str) -> Space:
    """The built-in space of a short estimator name."""
    if estimator not in PRESETS:
        raise InvalidInputError(
            f"no built-in search space for {estimator!r} — give one with --space FILE "
            f"(presets exist for: {', '.join(sorted(PRESETS))})")
    return parse_space(PRESETS[estimator], f"preset {estimator}")


def load_space(path: str | Path) -> Space:
    """Read a YAML or JSON space file."""
    file = Path(path)
    if not file.is_file():
        raise NotFoundError(f"search space file {str(file)!r} not found")
    text = file.read_text()
    try:
        if file.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / ValueError: report the parser's first line
        first = first_line(exc)
        raise InvalidInputError(f"invalid search space {str(file)!r}: {first}") from None
    return parse_space(raw, str(file))


def parse_space(raw: Any, where: str = "space") -> Space:
    """Check a space given as a mapping and turn it into ``Param``s."""
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInputError(f"invalid search space {where!r}: expected a non-empty mapping "
                                "of parameter name to {type: int|float|categorical, ...}")
    return {str(name): _param(str(name), spec, where) for name, spec in raw.items()}


def _param(name: str, spec: Any, where: str) -> Param:
    def bad(why: str) -> InvalidInputError:
        return InvalidInputError(f"invalid search space {where!r}: parameter {name!r} {why}")

    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, Mapping):
        raise bad("must be a mapping such as {type: int, low: 1, high: 10} or a list of choices")
    kind = spec.get("type")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise bad("needs a non-empty list of choices")
        if not all(c is None or isinstance(c, str | int | float | bool) for c in choices):
            raise bad("choices must be numbers, strings, booleans or null")
        return Param(name, "categorical", choices=tuple(choices))
    if kind not in ("int", "float"):
        raise bad(f"has unknown type {kind!r} — use int, float or categorical")
    unknown = set(spec) - {"type", "low", "high", "log"}
    if unknown:
        raise bad(f"has unknown key {sorted(unknown)[0]!r}")
    low, high, log = spec.get("low"), spec.get("high"), bool(spec.get("log", False))
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)):
        raise bad("needs numeric low and high")
    assert isinstance(low, int | float) and isinstance(high, int | float)
    if low >= high:
        raise bad(f"has low {low} >= high {high}")
    if log and low <= 0:
        raise bad("has log: true, which needs low > 0")
    if kind == "int" and (int(low) != low or int(high) != high):
        raise bad("is an int but low/high are not integers")
    return Param(name, kind, low, high, log)


def space_to_dict(space: Space) -> dict[str, Any]:
    """The space as plain data, for the recipe a retrain re-runs."""
    return {name: p.to_dict() for name, p in space.items()}
