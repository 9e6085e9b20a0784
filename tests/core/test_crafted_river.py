"""Crafted River state: the decoder builds only the reviewed River classes, calls no
method the data names, and refuses every ref it cannot resolve exactly."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import orjson
import pytest

from modelport.core.formats import get_format
from modelport.errors import UnsafeArtifactError

river = pytest.importorskip("river")
from river import datasets, linear_model, preprocessing, tree  # noqa: E402

from modelport.core.formats import river_trusted  # noqa: E402
from modelport.core.formats.river_state import encode  # noqa: E402

LR = "river.linear_model.log_reg.LogisticRegression"
PA = "river.linear_model.pa.PAClassifier"


def load(state: Any) -> Any:
    return get_format("river").load_model(orjson.dumps({"river_state": 1, "model": state}))


def test_the_urlopener_chain_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    """River's datasets module imports ``urllib.request``; the old lookup fell back to
    it, built a URLopener from state, and its ``__del__`` unlinked the listed files."""
    victim = tmp_path / "victim"
    victim.write_text("still here")
    opener = {"object": "river.datasets.base.request.URLopener", "id": 1, "state": [
        ["_URLopener__tempfiles", {"list": [str(victim)]}], ["tempcache", None]]}
    state = {"object": LR, "id": 0, "state": [["_weights_note", opener]]}
    with pytest.raises(UnsafeArtifactError, match="not on modelport's list"):
        load(state)
    gc.collect()
    assert victim.read_text() == "still here"


@pytest.mark.parametrize("name", [
    "river.datasets.base.request.URLopener",  # a module River imports
    "river.datasets.base.URLopener",
    "river.utils.math.np.ndarray",
    "urllib.request.URLopener",  # not River at all
    "builtins.object",
    "river_evil.linear_model.LogisticRegression",
    "river.linear_model.LogisticRegression",  # a re-export, not where the class lives
    "river.linear_model.log_reg.LogisticRegression.__init__",
    "river.linear_model.log_reg.LogisticRegression.__class__",
    "river.tree.hoeffding_adaptive_tree_classifier.HoeffdingAdaptiveTreeClassifier",  # subclass
    "river.linear_model.log_reg.<locals>.X",
    "",
])
def test_only_listed_river_classes_are_built(name: str) -> None:
    with pytest.raises(UnsafeArtifactError, match="not on modelport's list"):
        load({"object": name, "id": 0, "state": []})


def test_a_listed_name_that_resolves_to_another_class_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is on the class found, not on the path that found it."""
    import river.linear_model.log_reg as log_reg

    class LogisticRegression(log_reg.LogisticRegression):  # a subclass under the same name
        def __del__(self) -> None:
            raise AssertionError("never built")

    LogisticRegression.__module__ = "river.linear_model.log_reg"
    monkeypatch.setattr(log_reg, "LogisticRegression", LogisticRegression)
    with pytest.raises(UnsafeArtifactError, match="is not River's"):
        load({"object": LR, "id": 0, "state": []})


@pytest.mark.parametrize("method", ["__globals__", "__class__", "__del__", "__init__",
                                    "__reduce_ex__", "learn_one", "clone", "_calc_tau_0"])
def test_a_method_tag_outside_the_list_is_refused(method: str) -> None:
    owner = {"object": PA, "id": 0, "state": []}
    with pytest.raises(UnsafeArtifactError, match="method"):
        load({"list": [owner, {"method": method, "of": {"ref": 0}}]})


def test_a_listed_method_of_the_wrong_class_is_refused() -> None:
    owner = {"object": LR, "id": 0, "state": []}
    with pytest.raises(UnsafeArtifactError, match="method"):
        load({"method": "_calc_tau_1", "of": owner})


@pytest.mark.parametrize("key", ["__class__", "__dict__", "predict_proba_one", "learn_one",
                                 "clone", 3, "not an identifier"])
def test_state_cannot_shadow_methods_or_set_odd_attributes(key: object) -> None:
    with pytest.raises(UnsafeArtifactError, match="attribute"):
        load({"object": LR, "id": 0, "state": [[key, 1.0]]})


@pytest.mark.parametrize("args", [
    [{"dict": []}, {"object": LR, "id": 1, "state": []}, None, True],  # a callable factory
    [{"dict": []}, None, None, True, 5],
    ["weights", None, None, True],
])
def test_vectordict_arguments_are_checked(args: list[Any]) -> None:
    with pytest.raises(UnsafeArtifactError, match="VectorDict"):
        load({"new": "river._river_rust.vectordict.VectorDict", "id": 0, "args": args})


@pytest.mark.parametrize("state", [
    {"ndarray": [[1]], "dtype": "|O"},
    {"object": 7, "id": 0, "state": []},
    {"object": LR, "id": "x", "state": []},
    {"object": LR, "id": 0, "state": {"a": 1}},
    {"method": 5, "of": {"object": PA, "id": 0, "state": []}},
    {"ref": "0"},
])
def test_malformed_refs_are_unsafe_artifacts(state: Any) -> None:
    with pytest.raises(UnsafeArtifactError):
        load(state)


def test_deep_nesting_is_refused_cleanly() -> None:
    data = b'{"river_state": 1, "model": ' + b'{"list": [' * 500 + b"1" + b"]}" * 500 + b"}"
    with pytest.raises(UnsafeArtifactError):
        get_format("river").load_model(data)


def test_every_listed_class_is_rivers_own_and_inert() -> None:
    """The reviewed list: each name resolves to a class defined where it says, and none
    has a finalizer or attribute hook a crafted state could drive (``__setstate__`` is
    never called: the decoder fills ``__dict__`` itself)."""
    for name in river_trusted.CLASSES:
        cls = river_trusted.resolve(name)
        assert f"{cls.__module__}.{cls.__qualname__}" == name
        for hook in ("__del__", "__getattr__", "__getattribute__", "__set_name__"):
            defines = [k for k in cls.__mro__[:-1] if hook in vars(k)]
            assert not defines, f"{name} inherits {hook} from {defines}"


def test_the_models_modelport_builds_encode_only_listed_classes() -> None:
    """What online.py builds by preset, and the tree variants, stay within the list."""
    rows = list(datasets.Phishing())[:300]
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "object" in node:
                seen.add(node["object"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for model in (preprocessing.StandardScaler() | linear_model.LogisticRegression(),
                  linear_model.PAClassifier(), tree.HoeffdingTreeClassifier(grace_period=30),
                  tree.ExtremelyFastDecisionTreeClassifier(grace_period=30)):
        for x, y in rows:
            model.learn_one(x, y)
        walk(encode(model))
    assert seen and seen <= river_trusted.CLASSES
