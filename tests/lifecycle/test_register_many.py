"""``modelport.register_models``: a training job's many models registered in one call,
locally and on a team server — all or none: a batch that fails records nothing, and the
blobs stored for it wait for the collector (``collect_garbage``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.errors import ConflictError, InvalidInputError, TooLargeError
from modelport.lifecycle import registry as reg
from modelport.lifecycle.gc import collect_garbage
from team_server import close, remote_workspace, team_server


@pytest.fixture
def shops(iris: Any) -> list[dict[str, Any]]:
    """One small model per shop, each fitted on its own rows (the "many models" pattern)."""
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    return [{"name": f"shop-{k}", "X": X.iloc[k::3],
             "model": LogisticRegression(max_iter=300).fit(X.iloc[k::3], y.iloc[k::3]),
             "metrics": {"acc": 0.9 + k / 100}, "tags": {"shop": str(k)}} for k in range(3)]


def _blobs(ws: Workspace) -> list[Path]:
    home = ws.settings.home / "artifacts"
    return [b for b in home.rglob("*") if b.is_file()] if home.exists() else []


def test_many_models_in_one_call(ws: Workspace, shops: list[dict[str, Any]]) -> None:
    modelport.register_model("shop-1", shops[1]["model"], X=shops[1]["X"], ws=ws)
    versions = modelport.register_models([*shops, {**shops[0], "description": "again"}],
                                         ws=ws)
    assert [v.ref for v in versions] == ["shop-0:1", "shop-1:2", "shop-2:1", "shop-0:2"]
    for v in versions:  # what the call answers is what the registry holds
        assert v.to_dict() == reg.get_version(v.ref, ws=ws).to_dict()
    assert versions[1].tags == {"shop": "1"} and versions[3].description == "again"
    assert versions[2].metrics == {"acc": 0.92}
    frame = shops[2]["X"].head(4)
    assert np.array_equal(modelport.load("shop-2:1", ws=ws).predict(frame),
                          shops[2]["model"].predict(frame))
    assert modelport.register_models([], ws=ws) == []


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "bad name"}, r"models\[1\]: invalid model name"),
    ({"X": None, "model": None, "name": "x", "extra": 1}, r"models\[1\]: unknown extra"),
    ({"tags": {"": "empty key"}}, r"models\[1\] \(shop-1\): invalid key ''"),
    ({"model": {"not": "a model"}}, r"models\[1\] \(shop-1\): modelport cannot store a "
                                    r"builtins\.dict"),
])
def test_a_bad_model_registers_nothing_and_leaves_no_named_blob(
        ws: Workspace, shops: list[dict[str, Any]], change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        modelport.register_models([shops[0], {**shops[1], **change}, shops[2]], ws=ws)
    assert modelport.list_models(ws=ws) == []
    collect_garbage(0, ws=ws)
    assert _blobs(ws) == []


def test_a_missing_argument_is_named(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match=r"models\[0\]: missing model, X — each takes"):
        modelport.register_models([{"name": "m"}], ws=ws)
    with pytest.raises(InvalidInputError, match=r"models\[0\] is a str"):
        modelport.register_models(["m"], ws=ws)  # type: ignore[list-item]
    with pytest.raises(TooLargeError, match="at most 1000 models"):
        modelport.register_models([{"name": "m", "model": None, "X": None}] * 1001, ws=ws)


def test_a_refused_commit_leaves_no_named_blob(ws: Workspace, shops: list[dict[str, Any]]
                                              ) -> None:
    """Another project holds one name: the store refuses the whole batch, and the blobs
    stored for it go at the next collection (the other project's model keeps its own)."""
    vision = Workspace.open(Settings(home=ws.settings.home, db_url=ws.settings.db_url,
                                     project="vision"))
    modelport.register_model("shop-2", shops[2]["model"], X=shops[2]["X"], ws=vision)
    kept = set(_blobs(ws))
    with pytest.raises(ConflictError, match="model name 'shop-2' is taken"):
        modelport.register_models(shops, ws=ws)
    assert modelport.list_models(ws=ws) == []
    collect_garbage(0, ws=ws)
    assert set(_blobs(ws)) == kept


@pytest.mark.storage_independent
def test_remote_many_models_are_one_request(settings: Settings, tmp_path: Path,
                                            shops: list[dict[str, Any]]) -> None:
    with team_server(settings) as (url, admin):
        remote = remote_workspace(url, admin, tmp_path / "laptop")
        sent: list[str] = []
        remote.store.api.client.event_hooks["request"].append(  # type: ignore[attr-defined]
            lambda request: sent.append(f"{request.method} {request.url.path}"))
        versions = modelport.register_models(shops, ws=remote)
        assert [v.ref for v in versions] == ["shop-0:1", "shop-1:1", "shop-2:1"]
        assert sent == ["POST /api/v1/models/versions:batch"]
        assert reg.get_version("shop-1:1", ws=remote).to_dict() == versions[1].to_dict()
        close(remote)


@pytest.mark.storage_independent
def test_a_batch_past_the_servers_body_limit_says_to_split_it(settings: Settings,
                                                              tmp_path: Path) -> None:
    from modelport.core.store.registry import Registration
    from modelport.interfaces.team.app import MAX_BODY

    record: Any = {"format": "sklearn", "artifact_digest": "a" * 64, "artifact_size": 1,
                   "sample_digest": None, "signature": {}, "input_example": None,
                   "metrics": {}, "run_id": None, "dataset_digest": None,
                   "description": "x" * (MAX_BODY // 10)}
    with team_server(settings) as (url, admin):
        remote = remote_workspace(url, admin, tmp_path / "laptop")
        with pytest.raises(TooLargeError, match="12 versions as too large a request — "
                                                "register them in smaller batches"):
            remote.store.registry.create_versions([Registration(f"m{i}", record, {})
                                                   for i in range(12)], now=1.0)
        assert modelport.list_models(ws=remote) == []
        close(remote)
