"""Text columns and missing values end to end: train / automl → register → predict,
ONNX export, ensembles, and retraining on a schedule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frames import mixed_frame
from modelport.core.formats.ensemble import Ensemble, EnsemblePredictor
from modelport.core.signature import ColumnSpec
from modelport.core.workspace import Workspace
from modelport.errors import ExportError, InvalidInputError
from modelport.lifecycle.automl import automl
from modelport.lifecycle.datasets import Dataset, digest_frame
from modelport.lifecycle.loading import export_onnx, load
from modelport.lifecycle.registry import get_version, register_model
from modelport.lifecycle.retrain import retrain_every
from modelport.lifecycle.search import get_run
from modelport.lifecycle.train import train

FRAME = mixed_frame()
X = FRAME.drop(columns="target")
# rows a client may send: an unseen category, a missing one, a missing number
ODD = pd.DataFrame({**{c: X[c].head(3).tolist() for c in X.columns},
                    "grade": ["z", None, "a"], "site": ["west", "north", None]})
ODD.loc[2, "mean radius"] = np.nan


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "mixed.csv"
    FRAME.to_csv(path, index=False)
    return path


@pytest.mark.storage_independent
@pytest.mark.parametrize("estimator", ["logistic_regression", "knn", "svm", "random_forest",
                                       "lightgbm", "xgboost"])
def test_train_on_a_csv_with_text_and_missing_values(ws: Workspace, csv: Path,
                                                     estimator: str) -> None:
    result = train(str(csv), "target", estimator, name="mixed", ws=ws)
    assert result.metrics["test_accuracy"] > 0.85
    version = result.version
    assert version is not None
    inputs = {c.name: c for c in version.signature.inputs}
    assert inputs["grade"] == ColumnSpec("grade", "string", ["a", "b", "c"])
    assert inputs["site"] == ColumnSpec("site", "string", ["east", "north", "south"])
    assert inputs["mean radius"].dtype == "float64"
    assert version.input_example[0]["grade"] in {"a", "b", "c", None}  # values, not codes

    predictor = load("mixed", ws=ws)
    assert (predictor.predict(X) == FRAME["target"]).mean() > 0.85
    assert set(predictor.predict(ODD)) <= {0, 1}  # unseen, missing: still an answer
    records = json.loads(X.head(5).to_json(orient="records"))
    np.testing.assert_array_equal(predictor.predict(records), predictor.predict(X.head(5)))


@pytest.mark.storage_independent
def test_tune_searches_with_the_same_preprocessing(ws: Workspace) -> None:
    from modelport.lifecycle.tune import tune

    data = Dataset("mixed", FRAME, digest_frame(FRAME))
    space = {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}}
    result = tune(data, "target", "logistic_regression", space=space, trials=3, cv=3,
                  name="tuned", ws=ws)
    assert result.best_values[0] > 0.9 and result.counts["trials"] == 3
    version = get_version("tuned", ws=ws)
    assert version.signature.categorical
    assert (load("tuned", ws=ws).predict(X) == FRAME["target"]).mean() > 0.9


@pytest.mark.storage_independent
def test_onnx_export_of_category_models(ws: Workspace, csv: Path) -> None:
    """Boosters convert the codes with parity; scikit-learn models are refused and stay
    native."""
    train(str(csv), "target", "lightgbm", name="boosted", ws=ws)
    exported = export_onnx("boosted:1", ws=ws)
    assert exported.onnx_ready
    fast, native = load("boosted", runtime="onnx", ws=ws), load("boosted", ws=ws)
    np.testing.assert_array_equal(fast.predict(X), native.predict(X))
    np.testing.assert_allclose(fast.predict_proba(ODD), native.predict_proba(ODD), atol=1e-4)

    train(str(csv), "target", "logistic_regression", name="linear", ws=ws)
    with pytest.raises(ExportError, match=r"category columns are not exported to ONNX .* "
                                          r"native runtime"):
        export_onnx("linear:1", ws=ws)
    assert load("linear", runtime="auto", ws=ws).runtime == "sklearn"


@pytest.mark.storage_independent
def test_an_ensemble_round_trips_without_pickle(ws: Workspace) -> None:
    from modelport.lifecycle.automl import make_estimator
    from modelport.lifecycle.preprocessing import Features, encode

    Xm, signature = encode(X)
    features = Features.of(signature, Xm)
    members = [make_estimator(f, "classification", {}, 0, features=features).fit(
        Xm, FRAME["target"]) for f in ("linear", "lightgbm", "random_forest")]
    voting = Ensemble(members)
    version = register_model("voted", voting, X=X, ws=ws)
    assert version.format == "ensemble"
    predictor = load("voted", ws=ws)
    assert isinstance(predictor, EnsemblePredictor) and predictor.runtime == "ensemble"
    assert [m.runtime for m in predictor.members] == ["sklearn", "lightgbm", "sklearn"]
    np.testing.assert_allclose(predictor.predict_proba(X), voting.predict_proba(Xm), atol=1e-9)
    np.testing.assert_allclose(
        predictor.predict_proba(X),
        np.mean([m.predict_proba(Xm) for m in members], axis=0), atol=1e-9)
    with pytest.raises(ExportError, match="no ONNX converter for ensemble models"):
        export_onnx("voted:1", ws=ws)
    with pytest.raises(InvalidInputError, match="cannot hold another ensemble"):
        register_model("nested", Ensemble([voting, members[0]]), X=X, ws=ws)
    with pytest.raises(InvalidInputError, match="same classes"):
        Ensemble([members[0], make_estimator("linear", "regression", {}, 0).fit(
            Xm.fillna(0), FRAME["target"])])


@pytest.mark.storage_independent
def test_automl_with_categories_records_and_maybe_registers_an_ensemble(
        ws: Workspace) -> None:
    data = Dataset("mixed", FRAME, digest_frame(FRAME))
    # every family must finish a trial: 6 s left the two forests none on a busy CI machine
    result = automl(data, "target", budget=12, cv=3, ensemble=3, name="auto", ws=ws,
                    families=["linear", "knn", "lightgbm", "random_forest"])
    assert {c.family for c in result.leaderboard} == {"linear", "knn", "lightgbm",
                                                      "random_forest"}
    report = result.ensemble
    assert report is not None and len(report["families"]) == 3
    assert report["families"][0] == result.best.family
    single, voted = report["best_test_accuracy"], report["ensemble_test_accuracy"]
    assert report["registered"] == (voted > single)
    version = result.version
    assert version is not None
    assert version.format == ("ensemble" if report["registered"] else
                              get_version(f"auto:{version.version}", ws=ws).format)
    assert (version.tags["family"] == "ensemble") == report["registered"]
    metrics = get_run(result.run_id, ws=ws).metrics
    assert metrics["ensemble_test_accuracy"] == voted and metrics["best_test_accuracy"] == single
    assert metrics["test_accuracy"] == max(single, voted)
    assert json.loads(version.tags["recipe"])["ensemble"] == 3
    predictor = load("auto", ws=ws)
    assert (predictor.predict(X) == FRAME["target"]).mean() > 0.9
    assert len(predictor.predict(ODD)) == 3


@pytest.mark.storage_independent
def test_an_ensemble_is_registered_when_it_wins(ws: Workspace,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from modelport.lifecycle import automl as module

    fixed = [0.90, 0.95]  # the single best, then the vote (real fits, fixed scores)
    real = module.score_model

    def score(model, X, y, metric):  # type: ignore[no-untyped-def]
        if X is prepared_test[0] and fixed:
            return fixed.pop(0)
        return real(model, X, y, metric)

    prepared_test: list[object] = [None]
    real_prepare = module.prepare

    def prepare(*args, **kwargs):  # type: ignore[no-untyped-def]
        p = real_prepare(*args, **kwargs)
        prepared_test[0] = p.X_test
        return p

    monkeypatch.setattr(module, "score_model", score)
    monkeypatch.setattr(module, "prepare", prepare)
    data = Dataset("mixed", FRAME, digest_frame(FRAME))
    # both families must finish a trial: 3 s left LightGBM none on a busy CI machine
    result = automl(data, "target", budget=6, cv=3, ensemble=2, name="won", ws=ws,
                    families=["linear", "lightgbm"])
    assert result.ensemble is not None and result.ensemble["registered"]
    assert result.version is not None and result.version.format == "ensemble"
    assert result.version.tags["members"] in ("linear,lightgbm", "lightgbm,linear")
    predictor = load("won", ws=ws)
    assert isinstance(predictor, EnsemblePredictor)
    assert (predictor.predict(X) == FRAME["target"]).mean() > 0.9


@pytest.mark.storage_independent
def test_bad_ensemble_options(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"ensemble must be 1 .* to 6 families"):
        automl("sklearn:iris", "target", budget=2, ensemble=0, ws=ws)
    with pytest.raises(InvalidInputError, match="use a test_size above 0"):
        automl("sklearn:iris", "target", budget=2, ensemble=2, test_size=0, ws=ws)


@pytest.mark.storage_independent
def test_retrain_every_re_reads_the_data_on_schedule(ws: Workspace, tmp_path: Path) -> None:
    """Real retrains on a fake clock: each round reads the file as it is then."""
    path = tmp_path / "fresh.csv"
    mixed_frame(seed=1).to_csv(path, index=False)
    automl(str(path), "target", budget=2, cv=3, families=["linear"], name="sched",
           promote=True, ws=ws)
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # between rounds, new rows arrive
        slept.append(seconds)
        mixed_frame(seed=len(slept) + 1, rows=400 + 50 * len(slept)).to_csv(path, index=False)

    seen: list[str] = []
    decisions = retrain_every("sched", str(path), 3600, times=3, sleep=sleep,
                              on_decision=lambda d: seen.append(d.challenger), ws=ws)
    assert slept == [3600, 3600]  # between rounds only, not after the last
    assert [d.challenger for d in decisions] == seen == ["sched:2", "sched:3", "sched:4"]
    assert [d.holdout_rows for d in decisions] == [114, 90, 100]  # 20 % of each file read
    with pytest.raises(InvalidInputError, match="interval must be positive"):
        retrain_every("sched", str(path), 0, ws=ws)
    with pytest.raises(InvalidInputError, match="times must be at least 1"):
        retrain_every("sched", str(path), 1, times=0, ws=ws)
