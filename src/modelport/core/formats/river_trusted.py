"""The reviewed list of River classes an online-model artifact may contain.

River state is rebuilt without running constructors, so every class named
here is one whose instances are plain parameter/number holders: the
estimators ``lifecycle/online.py`` builds (its presets and the linear and
Hoeffding-tree families), their optimizers, losses, schedulers and
initializers, the running statistics and the tree nodes and splitters those
models grow. Each name is the class's own ``__module__.__qualname__``; a name
River merely imports, a re-export path, a subclass or anything else is
refused. Adding a class means reviewing it first: no ``__del__``, no
``__setstate__``/``__getattr__``, and nothing in its state that River later
calls as code.
"""

from __future__ import annotations

import importlib
import types

from modelport.errors import UnsafeArtifactError

CLASSES: frozenset[str] = frozenset({
    # pipelines and preprocessing
    "river.compose.pipeline.Pipeline",
    "river.preprocessing.scale.StandardScaler",
    "river.preprocessing.scale.Normalizer",
    # linear models
    "river.linear_model.log_reg.LogisticRegression",
    "river.linear_model.lin_reg.LinearRegression",
    "river.linear_model.perceptron.Perceptron",
    "river.linear_model.pa.PAClassifier",
    "river.linear_model.pa.PARegressor",
    "river.linear_model.alma.ALMAClassifier",
    "river.linear_model.bayesian_lin_reg.BayesianLinearRegression",
    # optimizers, schedulers, initializers, losses
    "river.optim.sgd.SGD",
    "river.optim.adam.Adam",
    "river.optim.ada_bound.AdaBound",
    "river.optim.ada_delta.AdaDelta",
    "river.optim.ada_grad.AdaGrad",
    "river.optim.ada_max.AdaMax",
    "river.optim.ams_grad.AMSGrad",
    "river.optim.ftrl.FTRLProximal",
    "river.optim.momentum.Momentum",
    "river.optim.nadam.Nadam",
    "river.optim.nesterov.NesterovMomentum",
    "river.optim.rms_prop.RMSProp",
    "river.optim.schedulers.Constant",
    "river.optim.schedulers.InverseScaling",
    "river.optim.schedulers.Optimal",
    "river.optim.initializers.Zeros",
    "river.optim.initializers.Constant",
    "river.optim.losses.Absolute",
    "river.optim.losses.BinaryFocalLoss",
    "river.optim.losses.Cauchy",
    "river.optim.losses.EpsilonInsensitiveHinge",
    "river.optim.losses.Hinge",
    "river.optim.losses.Log",
    "river.optim.losses.Poisson",
    "river.optim.losses.Quantile",
    "river.optim.losses.Squared",
    # running statistics and distributions
    "river.stats.mean.Mean",
    "river.stats.var.Var",
    "river.proba.gaussian.Gaussian",
    # Hoeffding trees, their nodes and splitters
    "river.tree.hoeffding_tree_classifier.HoeffdingTreeClassifier",
    "river.tree.extremely_fast_decision_tree.ExtremelyFastDecisionTreeClassifier",
    "river.tree.nodes.branch.NumericBinaryBranch",
    "river.tree.nodes.branch.NumericMultiwayBranch",
    "river.tree.nodes.branch.NominalBinaryBranch",
    "river.tree.nodes.branch.NominalMultiwayBranch",
    "river.tree.nodes.htc_nodes.LeafMajorityClass",
    "river.tree.nodes.htc_nodes.LeafNaiveBayes",
    "river.tree.nodes.htc_nodes.LeafNaiveBayesAdaptive",
    "river.tree.nodes.efdtc_nodes.EFDTLeafMajorityClass",
    "river.tree.nodes.efdtc_nodes.EFDTLeafNaiveBayes",
    "river.tree.nodes.efdtc_nodes.EFDTLeafNaiveBayesAdaptive",
    "river.tree.nodes.efdtc_nodes.EFDTNumericBinaryBranch",
    "river.tree.nodes.efdtc_nodes.EFDTNumericMultiwayBranch",
    "river.tree.nodes.efdtc_nodes.EFDTNominalBinaryBranch",
    "river.tree.nodes.efdtc_nodes.EFDTNominalMultiwayBranch",
    "river.tree.splitter.gaussian_splitter.GaussianSplitter",
    "river.tree.splitter.nominal_splitter_classif.NominalSplitterClassif",
})

# bound methods a River object keeps as an attribute (a strategy chosen in __init__):
# method name -> the class that must define it; checked on the resolved object
METHODS: dict[str, str] = {
    "_calc_tau_1": "river.linear_model.pa.BasePA",
    "_calc_tau_2": "river.linear_model.pa.BasePA",
}

# compiled River types rebuilt by calling them with checked plain arguments
VECTOR_DICT = "river._river_rust.vectordict.VectorDict"
# what a VectorDict may call for a missing key
VECTOR_DICT_FACTORIES: frozenset[str] = frozenset({
    "river.optim.initializers.Zeros", "river.optim.initializers.Constant"})


def qualname(cls: type) -> str:
    """Where a class is defined: the name the encoder writes and the list holds."""
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve(name: object, allowed: frozenset[str] = CLASSES) -> type:
    """The class ``name`` on ``allowed``, found at its own module and checked to be it.

    No fallback: a ref is the module that defines the class plus its top-level
    name, so ``river.datasets.base.request.URLopener`` (a module River imports)
    does not resolve, and a listed name bound to anything else is refused.
    """
    if not isinstance(name, str) or name not in allowed:
        raise UnsafeArtifactError(
            f"refusing to build {name!r}: it is not on modelport's list of River classes")
    module, _, attr = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        raise UnsafeArtifactError(
            f"this online model needs {name}, which the installed River lacks") from None
    if not isinstance(cls, type) or qualname(cls) != name:
        raise UnsafeArtifactError(f"refusing to build {name!r}: what it names is not River's")
    return cls


def method(owner: object, name: object) -> types.MethodType:
    """The bound method ``name`` of ``owner`` if the list names it for ``owner``'s class."""
    home = METHODS.get(name) if isinstance(name, str) else None
    defining = next((c for c in type(owner).__mro__ if qualname(c) == home), None)
    func = vars(defining).get(str(name)) if defining is not None else None
    if not isinstance(func, types.FunctionType) or getattr(type(owner), str(name)) is not func:
        raise UnsafeArtifactError(
            f"refusing method {name!r} of a {qualname(type(owner))}: not on modelport's list")
    return types.MethodType(func, owner)
