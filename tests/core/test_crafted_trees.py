"""Crafted trees: a cycle, an out-of-range child or feature, a NaN threshold or a model
string LightGBM cannot parse is refused at load with one clear error — and the process
that loads it survives. The raw libraries are shown crashing or hanging on the same
bytes, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelport.core.formats import get_format
from modelport.core.signature import Signature
from modelport.errors import InvalidInputError, UnsafeArtifactError

RNG = np.random.RandomState(0)
X = pd.DataFrame(RNG.rand(300, 4), columns=["a", "b", "c", "d"])
Y = (X["a"] + X["b"] > 1).astype(int)
SIGNATURE = Signature.infer(X, classes=[0, 1])
WIDE = Signature.infer(pd.concat([X, X.add_suffix("2")], axis=1), classes=[0, 1])


def crashes(code: str, timeout: float = 20) -> bool:
    """Whether ``code`` kills or hangs a fresh interpreter (what it would do to a server)."""
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], timeout=timeout,
                              capture_output=True)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode < 0 or done.returncode == 134


# ---- scikit-learn Tree ----------------------------------------------------------------

def _tree_nodes(tree: Any, edit: Callable[[np.ndarray], None]) -> None:
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    state["nodes"] = nodes
    tree.__setstate__(state)


def _internal(nodes: np.ndarray) -> int:
    """An internal node other than the root."""
    return int(np.flatnonzero(nodes["left_child"] != -1)[1])


SKLEARN_EDITS: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "cycle": (lambda n: n["left_child"].__setitem__(_internal(n), _internal(n)), "twice"),
    "back to the root": (lambda n: n["right_child"].__setitem__(_internal(n), 0), "outside"),
    "child out of range": (lambda n: n["left_child"].__setitem__(0, 10**6), "outside"),
    "feature out of range": (lambda n: n["feature"].__setitem__(0, 4), "feature 4"),
    "negative feature": (lambda n: n["feature"].__setitem__(0, -7), "feature"),
    "nan threshold": (lambda n: n["threshold"].__setitem__(0, np.nan), "NaN"),
}


def _crafted_sklearn(kind: str, edit: Callable[[np.ndarray], None]) -> bytes:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    model: Any
    if kind == "tree":
        model = DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, Y)
        _tree_nodes(model.tree_, edit)
    elif kind == "forest":
        model = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, Y)
        _tree_nodes(model.estimators_[2].tree_, edit)
    else:
        model = GradientBoostingClassifier(n_estimators=3, max_depth=3, random_state=0).fit(X, Y)
        _tree_nodes(model.estimators_[1, 0].tree_, edit)
    import skops.io as sio

    return bytes(sio.dumps(model))


@pytest.mark.parametrize("kind", ["tree", "forest", "boosting"])
@pytest.mark.parametrize("case", list(SKLEARN_EDITS))
def test_crafted_sklearn_trees_are_refused(kind: str, case: str) -> None:
    edit, message = SKLEARN_EDITS[case]
    data = _crafted_sklearn(kind, edit)
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("sklearn").load(data, SIGNATURE)


def test_a_tree_model_for_another_width_is_refused() -> None:
    data = _crafted_sklearn("forest", lambda n: None)
    assert get_format("sklearn").load(data, SIGNATURE).predict(X.head(2)).shape == (2,)
    with pytest.raises(UnsafeArtifactError, match="expects 4 features, its signature has 8"):
        get_format("sklearn").load(data, WIDE)


def test_the_raw_tree_walk_hangs_on_a_cycle() -> None:
    """What the check prevents: scikit-learn follows the cycle forever."""
    data = _crafted_sklearn("tree", SKLEARN_EDITS["cycle"][0])
    assert crashes(f"""
        import numpy as np, skops.io as sio
        from modelport.core.formats.trusted import TRUSTED_TYPES
        model = sio.loads({data!r}, trusted=sorted(TRUSTED_TYPES))
        model.predict(np.random.RandomState(1).rand(200, 4))
    """, timeout=15)


# ---- HistGradientBoosting TreePredictor ------------------------------------------------

def _crafted_hist(edit: Callable[[np.ndarray], None]) -> bytes:
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=3, max_depth=3, random_state=0).fit(X, Y)
    edit(model._predictors[1][0].nodes)
    return bytes(sio.dumps(model))


def _hist_internal(nodes: np.ndarray) -> int:
    return int(np.flatnonzero(nodes["is_leaf"] == 0)[1])


HIST_EDITS: dict[str, tuple[Callable[[np.ndarray], None], str]] = {
    "cycle": (lambda n: n["left"].__setitem__(_hist_internal(n), _hist_internal(n)), "twice"),
    "child out of range": (lambda n: n["right"].__setitem__(0, 5000), "outside"),
    "feature out of range": (lambda n: n["feature_idx"].__setitem__(0, 400), "feature 400"),
    "nan threshold": (lambda n: n["num_threshold"].__setitem__(0, np.nan), "NaN"),
    "nan leaf": (lambda n: n["value"].__setitem__(int(np.flatnonzero(n["is_leaf"])[0]),
                                                   np.nan), "leaf value"),
    "categorical split": (lambda n: n["is_categorical"].__setitem__(0, 1), "categorical"),
}


@pytest.mark.parametrize("case", list(HIST_EDITS))
def test_crafted_hist_gradient_boosting_trees_are_refused(case: str) -> None:
    edit, message = HIST_EDITS[case]
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("sklearn").load(_crafted_hist(edit), SIGNATURE)


# ---- XGBoost JSON ----------------------------------------------------------------------

def _xgboost_doc() -> dict[str, Any]:
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBClassifier(n_estimators=3, max_depth=3).fit(X.to_numpy(), Y)
    envelope = json.loads(get_format("xgboost").dump(model))
    return {"classes": envelope["classes"], "booster": json.loads(envelope["booster"])}


def _xgb_tree(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["booster"]["learner"]["gradient_booster"]["model"]["trees"][1]


def _xgb_set(key: str, index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _xgb_tree(doc)[key].__setitem__(index, value)


XGB_EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "cycle": (_xgb_set("left_children", 1, 1), "twice"),
    "back to the root": (_xgb_set("right_children", 0, 0), "outside"),
    "child out of range": (_xgb_set("left_children", 0, 100000), "outside"),
    "feature out of range": (_xgb_set("split_indices", 0, 1000000), "feature 1000000"),
    "nan threshold": (_xgb_set("split_conditions", 0, float("nan")), "NaN"),
    "short arrays": (lambda d: _xgb_tree(d)["left_children"].pop(), "node arrays"),
    "tree count": (lambda d: d["booster"]["learner"]["gradient_booster"]["model"]["trees"]
                   .pop(), "tree counts"),
    "tree id": (lambda d: _xgb_tree(d).__setitem__("id", 0), "has id"),
    "iteration bounds": (lambda d: d["booster"]["learner"]["gradient_booster"]["model"]
                         ["iteration_indptr"].__setitem__(0, -1), "iteration bounds"),
    "negative output count": (lambda d: d["booster"]["learner"]["learner_model_param"]
                              .__setitem__("num_target", "-1"), "malformed"),
    "a newer format": (lambda d: d["booster"].__setitem__("version", [99, 0, 0]), "newer"),
}


def _xgb_bytes(doc: dict[str, Any]) -> bytes:
    return json.dumps({"classes": doc["classes"], "booster": json.dumps(doc["booster"])}
                      ).encode()


@pytest.mark.parametrize("case", list(XGB_EDITS))
def test_crafted_xgboost_trees_are_refused(case: str) -> None:
    doc = _xgboost_doc()
    edit, message = XGB_EDITS[case]
    edit(doc)
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("xgboost").load(_xgb_bytes(doc), SIGNATURE)


def test_xgboost_width_and_garbage() -> None:
    doc = _xgboost_doc()
    assert get_format("xgboost").load(_xgb_bytes(doc), SIGNATURE).predict(X.head(3)).shape == (3,)
    with pytest.raises(UnsafeArtifactError, match="expects 4 features"):
        get_format("xgboost").load(_xgb_bytes(doc), WIDE)
    with pytest.raises(InvalidInputError, match="not a loadable xgboost"):
        get_format("xgboost").load_model(json.dumps({"booster": "{]"}).encode())


def test_raw_xgboost_segfaults_on_an_out_of_range_child() -> None:
    doc = _xgboost_doc()
    XGB_EDITS["child out of range"][0](doc)
    assert crashes(f"""
        import numpy as np, xgboost as xgb
        booster = xgb.Booster()
        booster.load_model(bytearray({json.dumps(doc["booster"]).encode()!r}))
        booster.inplace_predict(np.random.rand(50, 4))
    """)


# ---- LightGBM text ---------------------------------------------------------------------

def _lightgbm_text() -> tuple[Any, str]:
    lgb = pytest.importorskip("lightgbm")
    model = lgb.LGBMClassifier(n_estimators=3, num_leaves=6, verbose=-1).fit(X.to_numpy(), Y)
    envelope = json.loads(get_format("lightgbm").dump(model))
    return envelope["classes"], envelope["booster"]


def _retree(text: str, key: str, change: Callable[[list[str]], None]) -> str:
    """``text`` with tree 1's ``key`` values changed, tree_sizes kept true (so only the
    change itself is crafted)."""
    head, _, rest = text.partition("\nTree=")
    blocks = ("Tree=" + rest).split("\nend of trees")[0].split("\n\n\nTree=")
    blocks = [b if i == 0 else "Tree=" + b for i, b in enumerate(blocks)]
    lines = blocks[1].split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(key + "="))
    values = lines[at].split("=", 1)[1].split(" ")
    change(values)
    lines[at] = f"{key}=" + " ".join(values)
    blocks[1] = "\n".join(lines)
    trees = "".join(b + "\n\n\n" for b in blocks)
    sizes = " ".join(str(len(b.encode()) + 3) for b in blocks)
    head = "\n".join(f"tree_sizes={sizes}" if line.startswith("tree_sizes=") else line
                     for line in head.split("\n"))
    return head + "\n" + trees + "end of trees" + text.split("\nend of trees", 1)[1]


def _set(i: int, v: str) -> Callable[[list[str]], None]:
    return lambda values: values.__setitem__(i, v)


LGB_EDITS: dict[str, tuple[str, Callable[[list[str]], None], str]] = {
    "cycle": ("left_child", _set(1, "1"), "twice|outside"),
    "back to the root": ("right_child", _set(1, "0"), "outside"),
    "child out of range": ("left_child", _set(0, "77"), "outside"),
    "leaf out of range": ("right_child", _set(0, "-40"), "outside"),
    "feature out of range": ("split_feature", _set(0, "4"), "feature 4"),
    "nan threshold": ("threshold", _set(0, "nan"), "NaN"),
    "a value that is not a number": ("threshold", _set(0, "abc"), "not a number"),
    "a missing value": ("decision_type", lambda v: v.pop(), "values, expected"),
    "categorical without categories": ("decision_type", _set(0, "1"), "num_cat=0"),
    "too many leaves": ("num_leaves", _set(0, "400000000"), "num_leaves"),
    "categories without a categorical split": ("num_cat", _set(0, "1"), "num_cat=1"),
}


@pytest.mark.parametrize("case", list(LGB_EDITS))
def test_crafted_lightgbm_trees_are_refused(case: str) -> None:
    classes, text = _lightgbm_text()
    key, change, message = LGB_EDITS[case]
    data = json.dumps({"classes": classes, "booster": _retree(text, key, change)}).encode()
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("lightgbm").load(data, SIGNATURE)


def test_a_lightgbm_string_that_fails_to_parse_is_refused_and_the_process_survives() -> None:
    """Wrong tree_sizes make LightGBM's parallel parser abort the process; the check
    refuses them first, in this very process."""
    classes, text = _lightgbm_text()
    broken = text.replace("tree_sizes=", "tree_sizes=7", 1)
    assert crashes(f"""
        import lightgbm as lgb
        lgb.Booster(model_str={broken!r})
    """)
    data = json.dumps({"classes": classes, "booster": broken}).encode()
    with pytest.raises(UnsafeArtifactError, match="tree_sizes do not match"):
        get_format("lightgbm").load_model(data)
    good = json.dumps({"classes": classes, "booster": text}).encode()
    assert get_format("lightgbm").load(good, SIGNATURE).predict(X.head(3)).shape == (3,)
    with pytest.raises(UnsafeArtifactError, match="expects 4 features"):
        get_format("lightgbm").load(good, WIDE)


# ---- nearest-neighbour indexes (KDTree, BallTree) ------------------------------------------

def _crafted_neighbors(algorithm: str, edit: Callable[[list[Any]], None]) -> bytes:
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(algorithm=algorithm).fit(X, Y)
    state = list(model._tree.__getstate__())
    edit(state)
    model._tree.__setstate__(tuple(state))
    return bytes(sio.dumps(model))


def _node_field(field: str, value: int) -> Callable[[list[Any]], None]:
    def edit(state: list[Any]) -> None:
        nodes = state[2].copy()
        nodes[field][-1] = value
        state[2] = nodes
    return edit


def _deeper(state: list[Any]) -> None:
    nodes = state[2].copy()
    nodes["is_leaf"][:] = 0
    state[2] = nodes


NEIGHBOR_EDITS: dict[str, tuple[Callable[[list[Any]], None], str]] = {
    "point index out of range": (lambda s: s[1].__setitem__(0, 10**6), "point index"),
    "leaf range past the points": (_node_field("idx_end", 10**6), "nodes do not fit"),
    "a leaf that is not one": (_deeper, "nodes do not fit"),
    "narrower data": (lambda s: s.__setitem__(0, s[0][:, :2].copy()), "features"),
}


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
@pytest.mark.parametrize("case", list(NEIGHBOR_EDITS))
def test_crafted_neighbour_indexes_are_refused(algorithm: str, case: str) -> None:
    edit, message = NEIGHBOR_EDITS[case]
    with pytest.raises(UnsafeArtifactError, match=message):
        get_format("sklearn").load(_crafted_neighbors(algorithm, edit), SIGNATURE)


def test_a_real_neighbour_index_loads_and_predicts() -> None:
    data = _crafted_neighbors("kd_tree", lambda s: None)
    assert get_format("sklearn").load(data, SIGNATURE).predict(X.head(4)).shape == (4,)


def test_minkowski_weights_of_another_width_are_refused() -> None:
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(algorithm="ball_tree", metric="minkowski",
                                 metric_params={"w": np.ones(4)}).fit(X, Y)
    state = list(model._tree.__getstate__())
    p, _, mat = state[11].__getstate__()
    state[11].__setstate__((p, np.ones(2), mat))
    model._tree.__setstate__(tuple(state))
    with pytest.raises(UnsafeArtifactError, match="metric weights"):
        get_format("sklearn").load(bytes(sio.dumps(model)), SIGNATURE)


def test_a_stray_tree_after_the_trees_is_refused() -> None:
    """Found by fuzzing: a ``Tree=`` line among the parameters segfaults LightGBM."""
    classes, text = _lightgbm_text()
    crafted = text.replace("\nparameters:\n", "\nparameters:\nTree=9\n", 1)
    data = json.dumps({"classes": classes, "booster": crafted}).encode()
    with pytest.raises(UnsafeArtifactError, match="after the trees"):
        get_format("lightgbm").load_model(data)


def test_xgboost_categories_must_be_codes_in_their_sorted_order() -> None:
    """Found by fuzzing: a negative category or an encoder out of order crashes XGBoost."""
    xgb = pytest.importorskip("xgboost")
    frame = X.copy()
    codes = np.random.RandomState(3).randint(0, 6, len(frame))
    frame["d"] = pd.Categorical(codes)
    model = xgb.XGBClassifier(n_estimators=3, max_depth=3, enable_categorical=True,
                              tree_method="hist").fit(frame, (codes > 2).astype(int))
    envelope = json.loads(get_format("xgboost").dump(model))
    for edit in ("tree", "encoder"):
        doc = json.loads(envelope["booster"])
        booster = doc["learner"]["gradient_booster"]["model"]
        if edit == "tree":
            tree = next(t for t in booster["trees"] if t["categories"])
            tree["categories"][0] = -5
        else:
            booster["cats"]["enc"][3]["values"][1] = 7
        data = json.dumps({"classes": envelope["classes"], "booster": json.dumps(doc)}).encode()
        with pytest.raises(UnsafeArtifactError, match="categor"):
            get_format("xgboost").load_model(data)


FUZZ = """
import json, random, resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from modelport.core.formats import get_format
from modelport.errors import ModelportError
fmt_name, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
envelope = json.loads(sys.stdin.read())
rng = random.Random(seed)
fmt = get_format(fmt_name)
values = [-1, 0, 1, 2, 3, 7, 99, -99, 2147483647, 10**6, "nan", "", "x", "-1", "5"]
def mutate_text(text):
    lines = text.split("\\n")
    for _ in range(rng.randint(1, 3)):
        j = rng.randrange(len(lines))
        if "=" in lines[j]:
            key, _, rest = lines[j].partition("=")
            parts = rest.split(" ")
            parts[rng.randrange(len(parts))] = str(rng.choice(values))
            lines[j] = key + "=" + " ".join(parts)
        else:
            lines.insert(j, rng.choice(["Tree=9", "num_leaves=3", ""]))
    return "\\n".join(lines)
def leaves(node, path=()):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, path + (i,))
    else:
        yield path
def mutate_json(text):
    doc = json.loads(text)
    paths = list(leaves(doc))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        node = doc
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = rng.choice(values)
    return json.dumps(doc)
for _ in range(count):
    booster = (mutate_text if fmt_name == "lightgbm" else mutate_json)(envelope["booster"])
    data = json.dumps({"classes": envelope["classes"], "booster": booster}).encode()
    try:
        native = fmt.load_model(data)
    except ModelportError:
        continue
    try:
        (native.predict if fmt_name == "lightgbm" else native.inplace_predict)(
            np.random.rand(16, 4))
    except Exception:
        pass  # a Python exception is fine: the process lives
print("survived")
"""


@pytest.mark.parametrize("fmt", ["lightgbm", "xgboost"])
def test_random_mutations_never_take_the_process_down(fmt: str) -> None:
    """A few hundred random edits of a real model: each is refused, fails with an
    exception, or predicts — none aborts or segfaults the process."""
    pytest.importorskip(fmt)
    if fmt == "lightgbm":
        classes, text = _lightgbm_text()
    else:
        doc = _xgboost_doc()
        classes, text = doc["classes"], json.dumps(doc["booster"])
    done = subprocess.run([sys.executable, "-c", FUZZ, fmt, "7", "300"], timeout=600,
                          input=json.dumps({"classes": classes, "booster": text}),
                          capture_output=True, text=True)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-2000:]


# ---- libsvm (SVC, SVR) -------------------------------------------------------------------

SVM_EDITS: dict[str, Callable[[Any], None]] = {
    "fewer coefficients than support vectors":
        lambda m: setattr(m, "_dual_coef_", m._dual_coef_[:, :3].copy()),
    "support counts past the vectors":
        lambda m: setattr(m, "_n_support", m._n_support * 5),
    "intercepts for other classes": lambda m: setattr(m, "_intercept_", np.zeros(7)),
    "narrower support vectors":
        lambda m: setattr(m, "support_vectors_", m.support_vectors_[:, :2].copy()),
    "a precomputed kernel": lambda m: setattr(m, "kernel", "precomputed"),
}


@pytest.mark.parametrize("case", list(SVM_EDITS))
def test_crafted_libsvm_models_are_refused(case: str) -> None:
    import skops.io as sio
    from sklearn.svm import SVC

    model = SVC().fit(X, Y)
    SVM_EDITS[case](model)
    with pytest.raises(UnsafeArtifactError, match="SVC"):
        get_format("sklearn").load(bytes(sio.dumps(model)), SIGNATURE)


def test_real_svms_load() -> None:
    import skops.io as sio
    from sklearn.svm import SVC, SVR

    for model in (SVC().fit(X, Y), SVR().fit(X, X["a"])):
        loaded = get_format("sklearn").load(bytes(sio.dumps(model)), Signature.infer(X))
        assert loaded.predict(X.head(2)).shape == (2,)
