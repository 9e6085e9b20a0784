"""The types a stored scikit-learn model may ask skops to build, beyond skops' defaults.

Reviewed by hand: each is a data holder of a supported estimator (tree
structures, neighbour indexes, distance metrics, optimizer state) with no
behaviour on construction. skops already trusts plain estimators, NumPy and
SciPy containers. A test trains every estimator in ``lifecycle/estimators.py``
and checks it round-trips with exactly this list — extend it there, never from
an artifact.
"""

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # tree ensembles (MLflow 3.17's default skops save fails on these)
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # nearest neighbours
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        # what SimpleImputer and OneHotEncoder remember of their input's dtype: a dtype
        # describes a memory layout and runs no code when built; the arrays themselves
        # are still loaded by skops without pickle (allow_pickle=False)
        "numpy.dtype",
        # neural network optimizer state
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)
