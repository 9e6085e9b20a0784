"""XGBoost's JSON model, checked before XGBoost builds and walks its trees.

XGBoost's loader takes child and feature indices as written: a cycle, a child
past the node arrays or a split feature past the input width segfaults at the
first prediction. Every tree of a ``gbtree``/``dart`` booster is checked here
(``tree_check.check_tree``); a linear booster's weights are checked for size.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from modelport.core.formats.tree_check import check_tree
from modelport.errors import InvalidInputError, UnsafeArtifactError

_NODE_ARRAYS = ("left_children", "right_children", "parents", "split_indices",
                "split_conditions", "default_left")
_OPTIONAL_ARRAYS = ("split_type", "base_weights", "loss_changes", "sum_hessian")


def check_xgboost_json(text: str) -> int:
    """Validate a booster saved as JSON; return its number of features. Text that is not
    an XGBoost JSON model at all is an InvalidInputError, a malformed one
    UnsafeArtifactError."""
    try:
        doc = json.loads(text)
        learner = doc["learner"]
    except (ValueError, KeyError, TypeError):
        raise InvalidInputError("not a loadable xgboost model: not XGBoost's JSON") from None
    try:
        n_features = int(learner["learner_model_param"]["num_feature"])
        booster = learner["gradient_booster"]
        name = booster["name"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsafeArtifactError(f"malformed XGBoost model: {type(exc).__name__} {exc}"
                                  ) from None
    if n_features < 1:
        raise UnsafeArtifactError(f"malformed XGBoost model: {n_features} features")
    try:
        if name == "gblinear":
            _linear(booster, n_features)
        elif name in ("gbtree", "dart"):
            model = booster["model"] if name == "gbtree" else booster["gbtree"]["model"]
            trees = model["trees"]
            if not isinstance(trees, list) or len(model["tree_info"]) != len(trees) \
                    or int(model["gbtree_model_param"]["num_trees"]) != len(trees):
                raise UnsafeArtifactError("malformed XGBoost model: tree counts disagree")
            for i, tree in enumerate(trees):
                _tree(f"XGBoost tree {i}", tree, n_features)
        else:
            raise UnsafeArtifactError(f"unsupported XGBoost booster {name!r}")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise UnsafeArtifactError(f"malformed XGBoost model: {type(exc).__name__} {exc}"
                                  ) from None
    return n_features


def _tree(where: str, tree: dict[str, Any], n_features: int) -> None:
    param = tree["tree_param"]
    n = int(param["num_nodes"])
    if int(param.get("size_leaf_vector", "1")) > 1:
        raise UnsafeArtifactError(f"{where}: multi-target trees are not supported")
    arrays = {k: tree[k] for k in _NODE_ARRAYS} | {k: tree[k] for k in _OPTIONAL_ARRAYS
                                                    if k in tree}
    if any(not isinstance(a, list) or len(a) != n for a in arrays.values()):
        raise UnsafeArtifactError(f"{where}: node arrays are not all {n} long")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    internal = left != -1
    leaves = ~internal
    if (right[leaves] != -1).any():
        raise UnsafeArtifactError(f"{where}: a leaf has a right child")
    conditions = np.asarray(tree["split_conditions"], dtype=np.float64)
    check_tree(where, left, right, internal, np.asarray(tree["split_indices"], dtype=np.int64),
               conditions, n_features, values=conditions[leaves])
    parents = np.asarray(tree["parents"], dtype=np.int64)
    nodes = np.flatnonzero(internal)
    if (parents[left[internal]] != nodes).any() or (parents[right[internal]] != nodes).any():
        raise UnsafeArtifactError(f"{where}: parents do not match children")
    if any(int(t) != 0 for t in tree.get("split_type", [])):
        _categories(where, tree, internal)


def _categories(where: str, tree: dict[str, Any], internal: np.ndarray) -> None:
    """Categorical splits index a flat category list through per-node segments."""
    nodes = np.asarray(tree["categories_nodes"], dtype=np.int64)
    segments = np.asarray(tree["categories_segments"], dtype=np.int64)
    sizes = np.asarray(tree["categories_sizes"], dtype=np.int64)
    total = len(tree["categories"])
    categorical = np.flatnonzero(np.asarray(tree["split_type"], dtype=np.int64) != 0)
    if len(nodes) != len(segments) or len(sizes) != len(nodes) \
            or not np.isin(categorical, nodes).all() or not internal[categorical].all() \
            or (nodes.size and (nodes.min() < 0 or nodes.max() >= len(internal))) \
            or (segments.size and (segments.min() < 0 or sizes.min() < 0
                                   or (segments + sizes).max() > total)):
        raise UnsafeArtifactError(f"{where}: categorical split data out of range")


def _linear(booster: dict[str, Any], n_features: int) -> None:
    weights = np.asarray(booster["model"]["weights"], dtype=np.float64)
    if weights.ndim != 1 or not weights.size or weights.size % (n_features + 1) != 0:
        raise UnsafeArtifactError("malformed XGBoost linear model: weights do not match "
                                  f"{n_features} features")
    if not np.isfinite(weights).all():
        raise UnsafeArtifactError("malformed XGBoost linear model: a weight is not finite")
