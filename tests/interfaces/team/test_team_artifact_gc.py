"""The collector behind a team server: run there, on the server's store against every
project's records, by an admin key only; a writer that finds a blob stored marks it stored
now on the server (``POST …/touch``), so a collection leaves it for the writer to record."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.errors import ModelportError
from modelport.lifecycle.gc import collect_garbage
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import register_model
from team_server import close, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent
HOUR = 3600.0


def _aged(root: Path) -> None:
    then = time.time() - 2 * HOUR
    for path in root.rglob("*"):
        os.utime(path, (then, then))


def test_the_server_collects_for_an_admin_only(tmp_path: Path) -> None:
    X, Y = load_iris(return_X_y=True, as_frame=True)
    server = Settings(home=tmp_path / "server")
    with team_server(server) as (url, admin):
        owner = remote_workspace(url, admin, tmp_path / "a")
        key = create_key("w", ["write"], None, ws=owner)[1]
        writer = remote_workspace(url, key, tmp_path / "b")
        try:
            register_model("iris", LogisticRegression(max_iter=300).fit(X, Y), X=X, ws=owner)
            orphan, found = writer.artifacts.put(b"orphan"), writer.artifacts.put(b"found")
            _aged(Path(server.artifacts_url))
            writer.artifacts.put(b"found")  # stored already: touched on the server, not sent
            with pytest.raises(ModelportError) as refused:
                collect_garbage(HOUR, ws=writer)
            assert refused.value.status == 403
            dry = collect_garbage(HOUR, dry_run=True, ws=owner)
            assert (dry.deleted, dry.bytes, dry.recent, dry.dry_run) == ([orphan], 6, 1, True)
            assert dry.named == 3  # iris:1's model, sample and profile
            assert writer.artifacts.exists(orphan)
            assert collect_garbage(HOUR, ws=owner).deleted == [orphan]
            assert not writer.artifacts.exists(orphan) and writer.artifacts.exists(found)
            assert load("iris:1", ws=writer).predict(X.head(2)).shape[0] == 2
        finally:
            close(writer)
            close(owner)
        with httpx.Client(base_url=f"{url}/api/v1") as c:
            bad = c.post("/artifacts:gc", json={"grace_s": -1},
                         headers={"Authorization": f"Bearer {admin}"})
            assert bad.status_code == 400 and bad.json()["code"] == "invalid_input"
            denied = c.post("/artifacts:gc", json={}, headers={"Authorization": f"Bearer {key}"})
            assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
