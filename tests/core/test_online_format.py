"""The River format: every supported online model round-trips through JSON state
exactly (and keeps learning identically); crafted state cannot name foreign code."""

from __future__ import annotations

import orjson
import pytest

from modelport.core.formats import format_for, get_format
from modelport.errors import InvalidInputError, UnsafeArtifactError

river = pytest.importorskip("river")
from river import datasets, forest, linear_model, optim, preprocessing, tree  # noqa: E402

SUPPORTED = {
    "scaled logistic regression": lambda: preprocessing.StandardScaler()
    | linear_model.LogisticRegression(),
    "logistic regression with Adam": lambda: preprocessing.StandardScaler()
    | linear_model.LogisticRegression(optimizer=optim.Adam(0.01)),
    "passive-aggressive": lambda: linear_model.PAClassifier(),
    "hoeffding tree": lambda: tree.HoeffdingTreeClassifier(grace_period=50),
    "scaled linear regression": lambda: preprocessing.StandardScaler()
    | linear_model.LinearRegression(),
}
PHISHING = list(datasets.Phishing())


@pytest.mark.parametrize("make", SUPPORTED.values(), ids=SUPPORTED.keys())
def test_round_trip_is_exact_and_keeps_learning_the_same(make) -> None:  # type: ignore[no-untyped-def]
    regressor = isinstance(make(), river.compose.Pipeline) and isinstance(
        list(make().steps.values())[-1], river.base.Regressor)
    target = (lambda y: float(y)) if regressor else (lambda y: y)
    model = make()
    for x, y in PHISHING[:600]:
        model.learn_one(x, target(y))
    fmt = format_for(model)
    assert fmt.name == "river"
    twin = fmt.load_model(fmt.dump(model))
    for x, y in PHISHING[600:900]:
        model.learn_one(x, target(y))
        twin.learn_one(x, target(y))
    answer = (lambda m, x: m.predict_one(x)) if regressor else (
        lambda m, x: m.predict_proba_one(x))
    assert all(answer(model, x) == answer(twin, x) for x, _ in PHISHING[900:])


def test_a_model_with_unstorable_parts_is_refused_when_saved() -> None:
    model = forest.ARFClassifier(n_models=2, seed=1)
    model.learn_one(*PHISHING[0])
    with pytest.raises(UnsafeArtifactError, match="cannot store"):
        get_format("river").dump(model)


LR = "river.linear_model.log_reg.LogisticRegression"


@pytest.mark.parametrize("state, message", [
    ({"object": "os.system", "id": 0, "state": []}, "not on modelport's list"),
    ({"object": LR, "id": 0,
      "state": [["f", {"object": "builtins.eval", "id": 1, "state": []}]]}, "not on modelport"),
    ({"new": LR, "id": 0, "args": []}, "not on modelport's list"),
    ({"defaultdict": [], "factory": "eval"}, "factory"),
    ({"method": "__init__", "of": {"dict": []}}, "refusing method"),
    ([1, 2], "bare list"),
    ({"object": LR, "state": []}, "malformed"),
    ({"list": [{"ref": 7}]}, "malformed"),
    ({"object": LR, "id": 0, "state": [["a"]]}, "malformed"),
])
def test_crafted_state_naming_foreign_code_is_refused(state: object, message: str) -> None:
    data = orjson.dumps({"river_state": 1, "model": state})
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("river").load_model(data)


def test_a_file_that_is_not_online_state_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not a loadable river model"):
        get_format("river").load_model(b"\x80\x04pickle")
    with pytest.raises(InvalidInputError, match="known state version"):
        get_format("river").load_model(b'{"river_state": 99, "model": {}}')
