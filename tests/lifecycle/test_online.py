"""Online training: progressive validation, registration, and the registered
model served like any other (one Predictor path)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.loading import load
from modelport.lifecycle.online import build_online, train_online
from modelport.lifecycle.search import get_run

pytest.importorskip("river")


def test_train_online_scores_progressively_and_registers(ws: Workspace) -> None:
    result = train_online("sklearn:breast_cancer", "target", "logistic_regression",
                          name="cancer", ws=ws)
    assert result.task == "classification" and result.metrics["online_accuracy"] > 0.9
    assert result.version is not None and result.version.format == "river"
    assert result.version.tags["recipe"] == "logistic_regression"
    run = get_run(result.run_id, ws=ws)
    assert run.tags["online"] == "true" and run.dataset_digest == result.version.dataset_digest
    predictor = load("cancer", ws=ws)
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    assert np.mean(predictor.predict(X) == y) > 0.9
    assert predictor.predict_proba(X.head(3)).shape == (3, 2)


def test_regression_and_a_tree(ws: Workspace) -> None:
    reg = train_online("sklearn:diabetes", "target", "linear_regression", ws=ws)
    assert reg.task == "regression" and 0 < reg.metrics["online_mae"] < 100
    tree = train_online("sklearn:iris", "target", "tree.HoeffdingTreeClassifier(grace_period=20)",
                        name="iris-tree", ws=ws)
    assert tree.metrics["online_accuracy"] > 0.8
    assert load("iris-tree", ws=ws).predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == [0]


@pytest.mark.parametrize("recipe, message", [
    ("", "invalid online model"),
    ("linear_model.LogisticRegression | ", "invalid online model"),
    ("sklearn.linear_model.LogisticRegression", "River has no"),
    ("linear_model.LogisticRegression(l2=__import__('os'))", "name a River class"),
    ("linear_model.LogisticRegression(l2=1 + x)", "only River classes and literal"),
    ("utils.math.sigmoid", "not a River class"),
])
def test_recipes_are_parsed_never_evaluated(recipe: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build_online(recipe)


def test_a_classifier_on_a_continuous_target_is_refused(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match="looks continuous"):
        train_online("sklearn:diabetes", "target", "logistic_regression", ws=ws)
    with pytest.raises(InvalidInputError, match="not in the dataset"):
        train_online("sklearn:iris", "nope", "logistic_regression", ws=ws)


def test_an_online_model_serves_over_http(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from modelport.config import Settings
    from modelport.core.store.engine import forget_stores
    from modelport.runtimes.serving.app import ServingApp
    from modelport.runtimes.serving.repository import Repository
    from modelport.runtimes.serving.service import InferenceService

    ws = Workspace.open(Settings(home=tmp_path / "home"))
    train_online("sklearn:iris", "target", "logistic_regression", name="iris-online", ws=ws)
    app = ServingApp(InferenceService(Repository(["iris-online"], ws=ws)))

    async def scenario() -> httpx.Response:
        await app.startup()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/v2/models/iris-online/infer", json={"inputs": [
                {"name": "x", "shape": [1, 4], "datatype": "FP64",
                 "data": [5.1, 3.5, 1.4, 0.2]}]})

    response = asyncio.run(scenario())
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["prediction"]["data"] == [0]
    app.repo.close()
    forget_stores()


def test_learn_teaches_checked_rows_and_refuses_the_rest(ws: Workspace) -> None:
    """``learn`` is the online predictor's own verb: the same signature check as
    ``predict``, so a row it would refuse is never learnt."""
    from sklearn.datasets import load_breast_cancer

    from modelport.errors import SchemaError

    train_online("sklearn:breast_cancer", "target", "logistic_regression", name="bc", ws=ws)
    predictor = load("bc", ws=ws)
    row = load_breast_cancer(as_frame=True).frame.drop(columns="target").iloc[0].to_dict()
    label = 1 - int(predictor.predict([row])[0])  # teach it the other answer
    before = predictor.predict_proba([row])[0][label]
    assert predictor.learn([row] * 200, [label] * 200) == 200  # type: ignore[attr-defined]
    after = predictor.predict_proba([row])[0]
    assert after[label] > before and predictor.predict([row])[0] == label
    with pytest.raises(SchemaError, match="2 rows but 1 labels"):
        predictor.learn([row, row], [0])  # type: ignore[attr-defined]
    with pytest.raises(SchemaError, match="mean radius"):
        predictor.learn([{**row, "mean radius": "wide"}], [0])  # type: ignore[attr-defined]
    assert np.allclose(predictor.predict_proba([row])[0], after)  # nothing half-learnt
