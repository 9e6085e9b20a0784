"""The format conformance suite: every estimator modelport trains, through its format.

Each supported estimator (``lifecycle/estimators.py``) is fitted once per task it
does — binary classification on breast_cancer, multiclass on iris, regression on
diabetes — and once more on a "mixed" copy of breast_cancer or diabetes with a
text column and missing values, behind the preprocessing ``build`` adds for it.
Each must then:

- be claimed by the expected format (``format_for``);
- survive dump → bytes → load with predictions equal to the original's (labels
  exactly, probabilities and values to 1e-9), probability columns in the order of
  ``signature.classes`` — which proves the skops allow-list covers it;
- convert to ONNX with a passing parity check, or fail with a one-line
  ``ExportError`` if it is a known-unconvertible estimator (listed below, with why).

Bad bytes and unsafe artifacts are refused with modelport errors, never raw ones.
"""

from __future__ import annotations

import io
import json
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from google.protobuf import __version__ as protobuf_version

from modelport.core.formats import FORMATS, Format, format_for, get_format
from modelport.core.formats.onnx import PARITY_ATOL, PARITY_RTOL, check_parity, convert
from modelport.core.formats.trusted import TRUSTED_TYPES
from modelport.core.signature import Signature
from modelport.errors import ExportError, InvalidInputError, SchemaError, UnsafeArtifactError
from modelport.lifecycle.estimators import ESTIMATORS, build, task_of
from modelport.lifecycle.preprocessing import Features, encode

# few trees, few iterations: the suite checks formats, not model quality
FAST: dict[str, dict[str, Any]] = {
    "random_forest": {"n_estimators": 10},
    "extra_trees": {"n_estimators": 10},
    "gradient_boosting": {"n_estimators": 10},
    "hist_gradient_boosting": {"max_iter": 10},
    "mlp": {"max_iter": 30},
    # one thread: LightGBM's and XGBoost's OpenMP pools otherwise fight over 2 cores
    "lightgbm": {"n_estimators": 10, "n_jobs": 1},
    "xgboost": {"n_estimators": 10, "n_jobs": 1},
}

# non-default parameters a search may pick that make scikit-learn store other helper
# types (neighbour indexes, distance metrics, optimizer state): each allow-list entry
# must be exercised by some case here
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("knn", "multiclass", {"algorithm": "ball_tree", "metric": "manhattan"}),
    ("knn", "multiclass", {"algorithm": "kd_tree", "metric": "chebyshev"}),
    ("knn", "regression", {"algorithm": "ball_tree", "p": 3}),
    ("mlp", "multiclass", {"solver": "sgd", "max_iter": 30}),
]

EXPECTED_FORMAT = {"lightgbm": "lightgbm", "xgboost": "xgboost"}  # the rest: "sklearn"

# Estimators (and parameters) whose ONNX conversion is known to fail, with the
# converter's words for why. A converter upgrade that fixes one makes test_onnx_export
# fail: then remove it from here.
NOT_CONVERTIBLE: list[tuple[str, dict[str, Any], str]] = [
    # skl2onnx 1.20 hands NumPy bools to the int-list attribute
    # nodes_missing_value_tracks_true of TreeEnsemble* built from scikit-learn 1.9's
    # TreePredictor, which onnx 1.23 rejects under protobuf 7; protobuf 6 (what
    # tritonclient[grpc], in the test extra, pins) takes them as ints and it converts
    *([("hist_gradient_boosting", {}, "Expected an int, got a boolean")]
      if int(protobuf_version.split(".")[0]) >= 7 else []),
    # skl2onnx's nearest-neighbour converter knows euclidean, manhattan and minkowski
    # distances only
    ("knn", {"metric": "chebyshev"}, "metric='chebyshev' is not implemented"),
]


def onnx_failure(case: Case) -> str | None:
    """The expected ExportError message of ``case``, or None if it must convert.

    With category columns, scikit-learn models are refused (skl2onnx's encoder
    takes no NaN category and its trees lose the routing of missing codes: parity
    failed); LightGBM and XGBoost convert the codes with parity."""
    if case.dataset.startswith("mixed") and case.name not in EXPECTED_FORMAT:
        return "scikit-learn models with category columns are not exported"
    params = dict(case.params)
    for name, when, reason in NOT_CONVERTIBLE:
        if case.name == name and all(params.get(k) == v for k, v in when.items()):
            return reason
    return None


# skl2onnx's SVC converter reads SVC.probA_ / probB_, deprecated in scikit-learn 1.9
SVC_CONVERTER_WARNINGS = [
    pytest.mark.filterwarnings("ignore:Attribute `probA_` was deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:Attribute `probB_` was deprecated:FutureWarning"),
]

TOL = {"rtol": 0.0, "atol": 1e-9}


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str  # binary | multiclass | regression | mixed | mixed_regression
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def task(self) -> str:
        return "regression" if self.dataset.endswith("regression") else "classification"

    @property
    def id(self) -> str:
        extra = "".join(f"-{k}={v}" for k, v in self.params)
        return f"{self.name}-{self.dataset}{extra}"


def _cases() -> list[Case]:
    cases = []
    for name, (classifier, regressor) in ESTIMATORS.items():
        params = tuple(FAST.get(name, {}).items())
        if classifier is not None:
            cases += [Case(name, "binary", params), Case(name, "multiclass", params),
                      Case(name, "mixed", params)]
        if regressor is not None:
            cases += [Case(name, "regression", params), Case(name, "mixed_regression", params)]
    cases += [Case(name, dataset, tuple(params.items())) for name, dataset, params in VARIANTS]
    return cases


CASES = _cases()


def _params(cases: list[Case], onnx: bool = False) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=SVC_CONVERTER_WARNINGS if onnx and c.name == "svm"
                         else ()) for c in cases]


@cache
def dataset(which: str) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn import datasets

    if which.startswith("mixed"):
        return mixed(*dataset("regression" if which.endswith("regression") else "binary"))
    loader = {"binary": datasets.load_breast_cancer, "multiclass": datasets.load_iris,
              "regression": datasets.load_diabetes}[which]
    bunch = loader(as_frame=True)
    return bunch.data, bunch.target


def mixed(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    """``X`` with a text column that carries signal, and holes in two numeric columns
    and in the text."""
    rng = np.random.default_rng(0)
    X = X.copy()
    high = (y > y.median()).to_numpy()
    X["grade"] = np.where(high, rng.choice(["a", "b"], len(y)), rng.choice(["b", "c"], len(y)))
    X = X.astype({"grade": object})
    for column in (X.columns[0], X.columns[1], "grade"):
        X.loc[rng.random(len(X)) < 0.05, column] = None if column == "grade" else np.nan
    return X, y


@dataclass(frozen=True)
class Fitted:
    model: Any
    X: pd.DataFrame  # as the user has it
    Xm: pd.DataFrame  # as the model saw it: category codes (the same as X when numeric)
    signature: Signature
    fmt: Format
    data: bytes


def signature_of(model: Any, X: pd.DataFrame) -> Signature:
    """As the registry infers it: class labels from a classifier, in its own order."""
    classes = getattr(model, "classes_", None) if task_of(model) == "classification" else None
    return Signature.infer(X, classes=classes)


@cache
def fitted(case: Case) -> Fitted:
    from sklearn.exceptions import ConvergenceWarning

    X, y = dataset(case.dataset)
    Xm, signature = encode(X)
    features = Features.of(signature, Xm)
    assert (not features.categorical) != case.dataset.startswith("mixed")
    with warnings.catch_warnings():
        # few iterations on purpose (mlp, sgd): convergence is not what is tested
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = build(case.name, case.task, dict(case.params), features=features).fit(Xm, y)
    fmt = format_for(model)
    return Fitted(model, X, Xm, signature_of(model, X), fmt, fmt.dump(model))


def has_proba(model: Any) -> bool:
    return hasattr(model, "predict_proba")


# ---------------------------------------------------------------- native round trip

@pytest.mark.parametrize("case", _params(CASES))
def test_format_for_picks_the_family_format(case: Case) -> None:
    f = fitted(case)
    assert f.fmt.name == EXPECTED_FORMAT.get(case.name, "sklearn")
    assert f.fmt is get_format(f.fmt.name)
    assert isinstance(f.data, bytes) and f.data


@pytest.mark.parametrize("case", _params(CASES))
def test_round_trip_predicts_like_the_original(case: Case) -> None:
    f = fitted(case)
    predictor = f.fmt.load(f.data, f.signature)
    expected = f.model.predict(f.Xm)

    got = predictor.predict(f.X)
    if case.task == "classification":
        assert predictor.is_classifier
        np.testing.assert_array_equal(got, expected)
    else:
        assert not predictor.is_classifier
        np.testing.assert_allclose(got, expected, **TOL)
    # the signature, not column position, decides the order of the features
    reordered = f.X[list(reversed(f.X.columns))].assign(unused=1.0)
    np.testing.assert_array_equal(predictor.predict(reordered), got)


@pytest.mark.parametrize("case", _params([c for c in CASES if c.task == "classification"]))
def test_probabilities_follow_signature_classes(case: Case) -> None:
    f = fitted(case)
    predictor = f.fmt.load(f.data, f.signature)
    classes = np.asarray(f.signature.classes)
    np.testing.assert_array_equal(classes, f.model.classes_)
    outputs = predictor.predict_outputs(f.X)
    np.testing.assert_array_equal(outputs["prediction"], f.model.predict(f.Xm))

    if not has_proba(f.model):  # RidgeClassifier, SVC, hinge-loss SGD: labels only
        assert set(outputs) == {"prediction"}
        with pytest.raises(SchemaError, match="no probabilities"):
            predictor.predict_proba(f.X)
        return
    proba = predictor.predict_proba(f.X)
    assert proba.shape == (len(f.X), len(classes))
    np.testing.assert_allclose(proba, f.model.predict_proba(f.Xm), **TOL)
    np.testing.assert_allclose(outputs["probabilities"], proba, **TOL)
    np.testing.assert_array_equal(classes[proba.argmax(axis=1)], f.model.predict(f.Xm))


@pytest.mark.parametrize("case", _params([c for c in CASES if c.task == "regression"][:1]))
def test_a_regressor_has_no_probabilities(case: Case) -> None:
    f = fitted(case)
    predictor = f.fmt.load(f.data, f.signature)
    assert set(predictor.predict_outputs(f.X)) == {"prediction"}
    with pytest.raises(SchemaError, match="regressor"):
        predictor.predict_proba(f.X)


def test_allow_list_is_exactly_what_supported_estimators_need() -> None:
    """Every estimator loads with the list (the round trips prove it), and every
    entry is needed by one of them: nothing unreviewed rides along."""
    import skops.io as sio

    needed: set[str] = set()
    for case in CASES:
        f = fitted(case)
        if f.fmt.name == "sklearn":
            needed |= set(sio.get_untrusted_types(data=f.data))
    assert needed == TRUSTED_TYPES
    # the reason the list exists: skops alone refuses a random forest
    assert "sklearn.tree._tree.Tree" in needed


def test_a_predictor_leaves_the_callers_model_untouched() -> None:
    f = fitted(Case("knn", "multiclass"))  # a StandardScaler → KNN pipeline
    scaler = f.model.steps[0][1]
    predictor = f.fmt.predictor(f.model, f.signature)
    np.testing.assert_array_equal(predictor.predict(f.X.to_numpy()), f.model.predict(f.Xm))
    assert list(scaler.feature_names_in_) == list(f.X.columns)


def test_string_labels_round_trip_and_export() -> None:
    X, y = dataset("multiclass")
    names = pd.Series(np.array(["setosa", "versicolor", "virginica"])[y], name="species")
    for name in ("random_forest", "ridge", "lightgbm"):
        model = build(name, "classification", FAST.get(name, {})).fit(X, names)
        signature = signature_of(model, X)
        assert signature.classes == ["setosa", "versicolor", "virginica"]
        fmt = format_for(model)
        native = fmt.load(fmt.dump(model), signature)
        np.testing.assert_array_equal(native.predict(X), model.predict(X))
        copy = get_format("onnx").load(convert(fmt.name, model, signature), signature)
        parity = check_parity(native, copy, X.to_numpy())
        assert parity.passed, (name, parity)
        np.testing.assert_array_equal(copy.predict(X), model.predict(X))


# ---------------------------------------------------------------- ONNX export

@pytest.mark.parametrize("case", _params(CASES, onnx=True))
def test_onnx_export(case: Case) -> None:
    """The fitted model and the one loaded back from its artifact (what
    ``export_onnx`` converts) both convert with parity — or fail with one clear line."""
    f = fitted(case)
    stored = f.fmt.load_model(f.data)
    native = f.fmt.predictor(stored, f.signature)
    x = f.signature.to_matrix(f.X)
    for model in (f.model, stored):
        reason = onnx_failure(case)
        if reason is not None:
            with pytest.raises(ExportError, match=re.escape(reason)) as err:
                convert(f.fmt.name, model, f.signature)
            assert "\n" not in str(err.value)
            assert "native runtime" in str(err.value)
            continue
        copy = get_format("onnx").load(convert(f.fmt.name, model, f.signature), f.signature)
        parity = check_parity(native, copy, x)
        assert parity.passed, parity
        assert parity.rows == len(x)
        assert parity.labels_agree == 1.0
        if case.task == "classification":
            np.testing.assert_array_equal(copy.predict(f.X), f.model.predict(f.Xm))
            assert set(copy.predict_outputs(f.X)) == set(native.predict_outputs(f.X))
        else:
            np.testing.assert_allclose(copy.predict(f.X), f.model.predict(f.Xm),
                                       rtol=PARITY_RTOL, atol=PARITY_ATOL)


def test_parity_notices_a_different_model() -> None:
    f = fitted(Case("random_forest", "multiclass", tuple(FAST["random_forest"].items())))
    X, y = dataset("multiclass")
    other = build("decision_tree", "classification", {"max_depth": 1}).fit(X, y)
    copy = get_format("onnx").load(convert("sklearn", other, f.signature), f.signature)
    parity = check_parity(f.fmt.predictor(f.model, f.signature), copy, X.to_numpy())
    assert not parity.passed
    assert parity.labels_agree < 1.0 and parity.max_abs_diff > 0.1


def test_convert_refuses_formats_without_a_converter() -> None:
    f = fitted(Case("decision_tree", "regression"))
    with pytest.raises(ExportError, match="no ONNX converter for onnx models"):
        convert("onnx", f.model, f.signature)
    with pytest.raises(ExportError, match="failed"):  # a model the converter does not know
        convert("lightgbm", f.model, f.signature)


# ---------------------------------------------------------------- safety and bad bytes

def _untrusted_pipeline() -> Any:
    """A genuine, allow-listed model with a call to os.system smuggled in front
    (never fitted nor run here: fitting would call it)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = fitted(Case("random_forest", "multiclass", tuple(FAST["random_forest"].items())))
    return Pipeline([("hook", FunctionTransformer(func=os.system)), ("model", model.model)])


def test_dump_refuses_types_outside_the_allow_list() -> None:
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(UnsafeArtifactError, match=r"allow-list: posix\.system"):
        get_format("sklearn").dump(FunctionTransformer(func=os.system))


def test_load_refuses_a_crafted_artifact() -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    fmt = get_format("sklearn")
    for model in (FunctionTransformer(func=os.system), _untrusted_pipeline()):
        data = sio.dumps(model)  # written without modelport's check, as an attacker would
        assert "posix.system" in sio.get_untrusted_types(data=data)
        with pytest.raises(UnsafeArtifactError, match="outside modelport's allow-list"):
            fmt.load_model(data)


def _zip_without_schema() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


GARBAGE = {
    "text": b"not a zip",
    "empty": b"",
    "binary": bytes(range(256)),
    "zip-without-schema": _zip_without_schema(),
    "json-list": b"[1, 2]",
    "envelope-int-booster": json.dumps({"booster": 3}).encode(),
    "envelope-garbage-booster": json.dumps({"classes": None, "booster": "garbage"}).encode(),
}


@pytest.mark.parametrize("format_name", list(FORMATS))
@pytest.mark.parametrize("garbage", list(GARBAGE))
def test_garbage_bytes_are_an_invalid_input(format_name: str, garbage: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^not a (modelport|loadable)") as err:
        get_format(format_name).load_model(GARBAGE[garbage])
    assert "\n" not in str(err.value)


@cache
def artifact_of(format_name: str) -> bytes:
    if format_name == "forecast":  # plain data: a history and a chosen model per series
        from modelport.core.formats.forecast import ForecastModel, SeriesModel

        return get_format("forecast").dump(ForecastModel(
            "D", 1, 2, [80], np.array(["a"] * 4, dtype=object), np.arange(4), np.arange(4.0),
            {"a": SeriesModel("Naive")}))
    if format_name == "onnx":
        f = fitted(Case("decision_tree", "multiclass"))
        return convert("sklearn", f.model, f.signature)
    if format_name == "river":
        from modelport.lifecycle.online import build_online

        model = build_online("logistic_regression")
        model.learn_one({"a": 1.0}, True)
        return get_format("river").dump(model)
    if format_name == "ensemble":
        from modelport.core.formats.ensemble import Ensemble

        members = [fitted(Case(n, "multiclass", tuple(FAST.get(n, {}).items()))).model
                   for n in ("decision_tree", "lightgbm")]
        return get_format("ensemble").dump(Ensemble(members))
    name = {"sklearn": "decision_tree"}.get(format_name, format_name)
    return fitted(Case(name, "multiclass", tuple(FAST.get(name, {}).items()))).data


@pytest.mark.parametrize("loader", list(FORMATS))
@pytest.mark.parametrize("writer", list(FORMATS))
def test_an_artifact_of_another_format_is_an_invalid_input(loader: str, writer: str) -> None:
    if loader == writer:
        assert get_format(loader).load_model(artifact_of(writer)) is not None
        return
    with pytest.raises(InvalidInputError, match=r"^not a (modelport|loadable)"):
        get_format(loader).load_model(artifact_of(writer))


def test_unknown_formats_and_models_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown model format 'pickle'"):
        get_format("pickle")
    with pytest.raises(InvalidInputError, match=r"cannot store a builtins\.object"):
        format_for(object())
