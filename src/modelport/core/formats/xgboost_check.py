"""XGBoost's JSON model, checked before XGBoost builds and walks its trees.

XGBoost's loader takes child and feature indices as written: a cycle, a child
past the node arrays or a split feature past the input width segfaults at the
first prediction. Every tree of a ``gbtree``/``dart`` booster is checked here
(``tree_check.check_tree``); a linear booster's weights are checked for size.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np

from modelport.core.formats.tree_check import check_tree
from modelport.errors import InvalidInputError, UnsafeArtifactError

MAX_CATEGORY = 1 << 20
MAX_FEATURES = 10_000_000
MAX_OUTPUTS = 100_000
_NODE_ARRAYS = ("left_children", "right_children", "parents", "split_indices",
                "split_conditions", "default_left")
_OPTIONAL_ARRAYS = ("split_type", "base_weights", "loss_changes", "sum_hessian")


def check_xgboost_json(text: str, library: tuple[int, ...] = ()) -> int:
    """Validate a booster saved as JSON; return its number of features. Text that is not
    an XGBoost JSON model at all is an InvalidInputError, a malformed one
    UnsafeArtifactError. ``library``: the installed XGBoost's version — a model saved by
    a later one is refused (its loader reads such files by other rules)."""
    try:
        doc = json.loads(text)
        learner = doc["learner"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise InvalidInputError("not a loadable xgboost model: not XGBoost's JSON") from None
    try:
        version = tuple(int(v) for v in doc["version"])
        params = learner["learner_model_param"]
        n_features = int(params["num_feature"])
        classes, targets = int(params.get("num_class", "0")), int(params.get("num_target", "1"))
        outputs = max(1, classes, targets)
        booster = learner["gradient_booster"]
        name = booster["name"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UnsafeArtifactError(f"malformed XGBoost model: {type(exc).__name__} {exc}"
                                  ) from None
    if len(version) != 3 or (library and version > library):
        raise UnsafeArtifactError(f"XGBoost model saved by version {version}, newer than the "
                                  f"installed {library} — upgrade xgboost to load it")
    if not 1 <= n_features <= MAX_FEATURES or not 0 <= classes <= MAX_OUTPUTS \
            or not 1 <= targets <= MAX_OUTPUTS:
        raise UnsafeArtifactError(f"malformed XGBoost model: {n_features} features")
    try:
        if name == "gblinear":
            _linear(booster, n_features)
        elif name in ("gbtree", "dart"):
            model = booster["model"] if name == "gbtree" else booster["gbtree"]["model"]
            trees = model["trees"]
            groups = np.asarray(model["tree_info"], dtype=np.int64)
            if not isinstance(trees, list) or len(groups) != len(trees) \
                    or int(model["gbtree_model_param"]["num_trees"]) != len(trees) \
                    or (groups.size and (groups.min() < 0 or groups.max() >= outputs)):
                raise UnsafeArtifactError("malformed XGBoost model: tree counts disagree")
            if "cats" in model:
                _encoder(model["cats"], n_features)
            bounds = np.asarray(model.get("iteration_indptr", [0, len(trees)]), dtype=np.int64)
            if bounds.size < 1 or bounds[0] != 0 or (np.diff(bounds) < 0).any() \
                    or bounds[-1] != len(trees):
                raise UnsafeArtifactError("malformed XGBoost model: iteration bounds disagree")
            for i, tree in enumerate(trees):
                if tree.get("id") != i:
                    raise UnsafeArtifactError(f"malformed XGBoost model: tree {i} has id "
                                              f"{tree.get('id')!r}")
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
    if int(param.get("size_leaf_vector", "1")) not in (0, 1):
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
    values = np.asarray(tree["categories"], dtype=np.int64)
    total = len(values)
    if total and (values.min() < 0 or values.max() >= MAX_CATEGORY):
        # XGBoost sets bit ``category`` of a bitset per split: a negative one writes
        # before it, a huge one allocates for it
        raise UnsafeArtifactError(f"{where}: a category is outside 0..{MAX_CATEGORY - 1}")
    categorical = np.flatnonzero(np.asarray(tree["split_type"], dtype=np.int64) != 0)
    if len(nodes) != len(segments) or len(sizes) != len(nodes) \
            or not np.isin(categorical, nodes).all() or not internal[categorical].all() \
            or (nodes.size and (nodes.min() < 0 or nodes.max() >= len(internal))) \
            or (segments.size and (segments.min() < 0 or sizes.min() < 0
                                   or (segments + sizes).max() > total)):
        raise UnsafeArtifactError(f"{where}: categorical split data out of range")


def _encoder(cats: dict[str, Any], n_features: int) -> None:
    """The category recoder XGBoost keeps (one sorted category list per feature): its
    segments, sort orders and values must agree, as its C++ reads them unchecked."""
    enc, segments = cats["enc"], np.asarray(cats["feature_segments"], dtype=np.int64)
    order = np.asarray(cats["sorted_idx"], dtype=np.int64)
    if not enc and not segments.size and not order.size:  # trained without categories
        return
    if len(enc) != n_features or segments.shape != (n_features + 1,) or segments[0] != 0 \
            or (np.diff(segments) < 0).any() or segments[-1] != len(order):
        raise UnsafeArtifactError("malformed XGBoost model: category segments disagree")
    for f, column in enumerate(enc):
        start, end = int(segments[f]), int(segments[f + 1])
        ranks = order[start:end]
        if not np.array_equal(np.sort(ranks), np.arange(end - start)):
            raise UnsafeArtifactError(f"XGBoost feature {f}: category order is not a "
                                      "permutation")
        categories = _categories_of(column)
        if len(categories) != end - start or any(
                categories[a] >= categories[b] for a, b in itertools.pairwise(ranks)):
            raise UnsafeArtifactError(f"XGBoost feature {f}: categories are not unique and "
                                      "sorted as the order says")


def _categories_of(column: dict[str, Any]) -> list[Any]:
    """One feature's categories: numbers (``type`` and ``values``) or strings
    (``offsets`` into UTF-8 ``values``)."""
    values = column["values"]
    if "type" in column:
        if not 0 <= int(column["type"]) < 64:
            raise ValueError("unknown category type")
        numbers = [float(v) for v in values]
        if not all(0 <= v < MAX_CATEGORY and v == math.floor(v) for v in numbers):
            raise ValueError("a category is not a code in range")
        return numbers
    offsets = [int(v) for v in column["offsets"]]
    raw = bytes(int(v) for v in values)  # ValueError outside 0..255
    if not offsets:
        if raw:
            raise ValueError("category bytes without offsets")
        return []
    if offsets[0] != 0 or offsets[-1] != len(raw) or any(
            b < a for a, b in itertools.pairwise(offsets)):
        raise ValueError("category offsets out of range")
    return [raw[a:b] for a, b in itertools.pairwise(offsets)]


def _linear(booster: dict[str, Any], n_features: int) -> None:
    weights = np.asarray(booster["model"]["weights"], dtype=np.float64)
    if weights.ndim != 1 or not weights.size or weights.size % (n_features + 1) != 0:
        raise UnsafeArtifactError("malformed XGBoost linear model: weights do not match "
                                  f"{n_features} features")
    if not np.isfinite(weights).all():
        raise UnsafeArtifactError("malformed XGBoost linear model: a weight is not finite")
