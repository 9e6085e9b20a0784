"""Validating decision trees before a compiled predictor walks them.

scikit-learn, XGBoost and LightGBM predict by following child indices and
reading ``X[row, feature]`` in C++/Cython without bounds checks: a crafted
artifact with a cycle hangs a worker, an out-of-range child or feature index
reads outside memory (a segfault takes the whole server down). Every tree is
therefore checked once, at load, in NumPy: children in range, each node with
at most one parent and the root with none (so the walk from the root meets no
node twice and always ends), features below the width the model is fed,
thresholds that are numbers and finite leaf values.

The checks are on what the walk uses, not on how a library happens to lay
out its nodes, so any tree a library writes passes. The same walk checks the
other compiled structures scikit-learn predicts from without bounds checks:
nearest-neighbour indexes (KDTree, BallTree) and libsvm models (SVC, SVR).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelport.errors import UnsafeArtifactError

MAX_NODES = 1 << 26  # per tree: far beyond any real tree, bounded so counts cannot lie


def check_tree(where: str, left: Any, right: Any, internal: Any, feature: Any,
               threshold: Any, n_features: int, values: Any = None) -> None:
    """Refuse a tree whose walk from node 0 could leave the arrays, revisit a node or read
    a column past ``n_features``. ``internal`` marks the nodes the walk splits at."""
    left, right = np.asarray(left), np.asarray(right)
    internal = np.asarray(internal, dtype=bool)
    n = len(internal)
    if not 0 < n <= MAX_NODES or len(left) != n or len(right) != n or len(feature) != n \
            or len(threshold) != n:
        raise UnsafeArtifactError(f"{where}: inconsistent node arrays ({n} nodes)")
    children = np.concatenate([left[internal], right[internal]]).astype(np.int64, copy=False)
    if children.size and (children.min() < 1 or children.max() >= n):
        raise UnsafeArtifactError(f"{where}: a child index is outside the tree's {n} nodes")
    if children.size and np.bincount(children, minlength=n).max() > 1:
        raise UnsafeArtifactError(f"{where}: a node is reached twice (the tree has a cycle "
                                  "or shared nodes)")
    used = np.asarray(feature)[internal].astype(np.int64, copy=False)
    if used.size and (used.min() < 0 or used.max() >= n_features):
        raise UnsafeArtifactError(f"{where}: a split reads feature {int(used.max())} of a "
                                  f"model fed {n_features} features")
    # ±inf is a real threshold (scikit-learn sends only missing values one way with it);
    # NaN compares false both ways and routes every row by accident
    if np.isnan(np.asarray(threshold, dtype=np.float64)[internal]).any():
        raise UnsafeArtifactError(f"{where}: a split threshold is NaN")
    if values is not None and not np.isfinite(np.asarray(values, dtype=np.float64)).all():
        raise UnsafeArtifactError(f"{where}: a leaf value is not a finite number")


def check_width(n_features: Any, signature: Any, what: str) -> None:
    """A model must be fed exactly the columns its signature checks requests against."""
    width = len(signature.inputs)
    if n_features is not None and int(n_features) != width:
        raise UnsafeArtifactError(f"{what} expects {int(n_features)} features, its signature "
                                  f"has {width} columns")


def check_sklearn(model: Any) -> None:
    """Every ``Tree`` and HistGradientBoosting ``TreePredictor`` reachable from ``model``,
    each against the width of the estimator that feeds it."""
    _Walker().visit(model, None)


# attributes whose estimators a parent calls on its own, already checked matrix
# (forests and gradient boosting skip the children's input checks)
_SAME_INPUT = frozenset({"estimators_", "estimator_", "tree_", "_predictors", "_tree"})


class _Walker:
    def __init__(self) -> None:
        self._seen: set[int] = set()

    def visit(self, obj: Any, width: int | None) -> None:
        if id(obj) in self._seen or isinstance(obj, str | bytes | int | float | type(None)):
            return
        self._seen.add(id(obj))
        kind = type(obj).__name__
        if kind == "Tree" and type(obj).__module__ == "sklearn.tree._tree":
            _sklearn_tree(obj, width)
        elif kind in ("KDTree", "BallTree") and type(obj).__module__.startswith(
                "sklearn.neighbors."):
            _neighbors_tree(kind, obj, width)
        elif isinstance(obj, list | tuple):
            for item in obj:
                self.visit(item, width)
        elif isinstance(obj, dict):
            for item in obj.values():
                self.visit(item, width)
        elif isinstance(obj, np.ndarray):
            if obj.dtype == object:
                for item in obj.ravel():
                    self.visit(item, width)
        elif type(obj).__module__.startswith("sklearn.") and hasattr(obj, "__dict__"):
            self._estimator(obj, width)

    def _estimator(self, est: Any, width: int | None) -> None:
        attrs = vars(est)
        own = attrs.get("n_features_in_")
        if own is not None:
            own = int(own)
            width = own if width is None else min(width, own)
        predictors = attrs.get("_predictors")
        if predictors is not None:
            _hist_predictors(est, predictors, width)
        if "_dual_coef_" in attrs and "support_vectors_" in attrs:
            _libsvm(est, width)
        for key, value in attrs.items():
            if key != "_predictors":
                self.visit(value, width if key in _SAME_INPUT else None)


def _sklearn_tree(tree: Any, width: int | None) -> None:
    n_features = int(tree.n_features)
    if width is not None and n_features != width:
        raise UnsafeArtifactError(f"scikit-learn tree: built for {n_features} features, its "
                                  f"estimator is fed {width}")
    left = tree.children_left
    value = tree.value
    if value.shape != (tree.node_count, tree.n_outputs, tree.max_n_classes):
        raise UnsafeArtifactError("scikit-learn tree: value array shape does not match its "
                                  "nodes, outputs and classes")
    check_tree("scikit-learn tree", left, tree.children_right, left != -1, tree.feature,
               tree.threshold, n_features, values=value)


LIBSVM_KERNELS = frozenset({"linear", "poly", "rbf", "sigmoid"})
LIBSVM_CLASSIFIERS = frozenset({"c_svc", "nu_svc"})


def _libsvm(est: Any, width: int | None) -> None:
    """libsvm rebuilds its model from these arrays and reads them by the counts they
    imply: per-class support counts, one coefficient row per other class, one intercept
    per pair of classes."""
    sv = np.asarray(est.support_vectors_)
    dual, intercept = np.asarray(est._dual_coef_), np.asarray(est._intercept_)
    n_sv = sv.shape[0] if sv.ndim == 2 else -1
    kernel, impl = getattr(est, "kernel", None), getattr(est, "_impl", None)
    counts = np.asarray(getattr(est, "_n_support", []))
    if impl in LIBSVM_CLASSIFIERS:
        k = len(counts)
        pairs = k * (k - 1) // 2
        ok = k >= 2 and counts.min() >= 0 and counts.sum() == n_sv \
            and dual.shape == (k - 1, n_sv) and intercept.shape == (pairs,) \
            and all(len(np.asarray(getattr(est, a, []))) in (0, pairs)
                    for a in ("_probA", "_probB"))
    else:
        ok = impl in ("epsilon_svr", "nu_svr", "one_class") and dual.shape == (1, n_sv) \
            and intercept.shape == (1,)
    if not ok or kernel not in LIBSVM_KERNELS or len(np.asarray(est.support_)) != n_sv \
            or (width is not None and sv.shape[1] != width) \
            or not np.isfinite(sv).all() or not np.isfinite(dual).all():
        raise UnsafeArtifactError(f"scikit-learn {type(est).__name__}: its support vectors, "
                                  "coefficients and intercepts do not agree (or its kernel "
                                  "is not one modelport serves)")


def _neighbors_tree(kind: str, tree: Any, width: int | None) -> None:
    """A KDTree/BallTree query reads nodes 2i+1 and 2i+2 below every non-leaf node i, and
    rows ``data[idx_array[idx_start:idx_end]]`` at the leaves: all of it must be in range."""
    data, idx, nodes, bounds, *_rest = tree.__getstate__()
    where = f"scikit-learn {kind}"
    data, idx, bounds = np.asarray(data), np.asarray(idx), np.asarray(bounds)
    if data.ndim != 2 or (width is not None and data.shape[1] != width):
        raise UnsafeArtifactError(f"{where}: its data is not rows of the model's features")
    n, n_nodes = len(data), len(nodes)
    if idx.shape != (n,) or (n and (idx.min() < 0 or idx.max() >= n)):
        raise UnsafeArtifactError(f"{where}: a point index is outside its {n} points")
    start, end = nodes["idx_start"], nodes["idx_end"]
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    if n_nodes == 0 or (start < 0).any() or (end < start).any() or (end > n).any() \
            or (inner.size and 2 * inner.max() + 2 >= n_nodes) \
            or bounds.ndim != 3 or bounds.shape[1:] != (n_nodes, data.shape[1]):
        raise UnsafeArtifactError(f"{where}: its nodes do not fit its {n} points")
    metric = tree.__getstate__()[11]
    weights = np.asarray(metric.__getstate__()[1])
    if type(metric).__name__.startswith("Minkowski") and weights.size \
            and weights.shape != (data.shape[1],):  # read per feature, unchecked at query
        raise UnsafeArtifactError(f"{where}: metric weights do not match its features")


def _hist_predictors(est: Any, predictors: Any, width: int | None) -> None:
    n_features = width if width is not None else int(vars(est).get("_n_features", 0))
    categorical = _known_categories(vars(est).get("_bin_mapper"), n_features)
    for row in predictors if isinstance(predictors, list) else []:
        for predictor in row if isinstance(row, list) else [row]:
            if type(predictor).__name__ != "TreePredictor":
                raise UnsafeArtifactError("HistGradientBoosting: a predictor is not a "
                                          "TreePredictor")
            _hist_tree(predictor, n_features, categorical)


def _known_categories(mapper: Any, n_features: int) -> Any:
    """The bin mapper's categorical mask, checked: predict builds 256-bit sets of the
    known categories from it, indexed by feature and by category value."""
    categorical = getattr(mapper, "is_categorical_", None)
    if categorical is None:
        return None
    categorical = np.asarray(categorical, dtype=bool)
    thresholds = getattr(mapper, "bin_thresholds_", None)
    if categorical.shape != (n_features,) or not isinstance(thresholds, list) \
            or len(thresholds) != n_features:
        raise UnsafeArtifactError("HistGradientBoosting: the bin mapper does not match the "
                                  f"model's {n_features} features")
    for f in np.flatnonzero(categorical):
        known = np.asarray(thresholds[f], dtype=np.float64)
        if known.size and not (np.isfinite(known).all() and known.min() >= 0
                               and known.max() <= 255 and (known == np.floor(known)).all()):
            raise UnsafeArtifactError("HistGradientBoosting: a categorical feature's known "
                                      "categories are not integers in 0..255")
    return categorical


def _hist_tree(predictor: Any, n_features: int, categorical: Any) -> None:
    nodes = predictor.nodes
    internal = nodes["is_leaf"] == 0
    cat = internal & (nodes["is_categorical"] != 0)
    threshold = np.where(cat, 0.0, nodes["num_threshold"])
    check_tree("HistGradientBoosting tree", nodes["left"], nodes["right"], internal,
               nodes["feature_idx"], threshold, n_features, values=nodes["value"])
    if cat.any():
        bitsets = len(predictor.raw_left_cat_bitsets)
        features = nodes["feature_idx"][cat]
        if categorical is None or not np.asarray(categorical, dtype=bool)[features].all() \
                or nodes["bitset_idx"][cat].max() >= bitsets:
            raise UnsafeArtifactError("HistGradientBoosting tree: a categorical split names "
                                      "a feature or category set the model does not have")
