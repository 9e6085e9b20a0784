"""Signing keys: files readable by their owner only, named by the id devices compute."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.runtimes.edge import signing
from modelport_edge import Trust


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_create_list_public(home: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="modelport keys signing create NAME"):
        signing.choose(None)
    key = signing.create_signing_key("release")
    assert key.path == home / "signing" / "release.key"
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.path.parent.stat().st_mode) == 0o700
    assert signing.choose(None) == "release"
    pub = tmp_path / "release.pub"
    pub.write_bytes(signing.public_pem("release"))
    assert list(Trust.load([pub]).keys) == [key.key_id]
    assert b"PRIVATE" not in pub.read_bytes()
    signing.create_signing_key("backup")
    assert [k.name for k in signing.list_signing_keys()] == ["backup", "release"]
    with pytest.raises(InvalidInputError, match="choose one with --key"):
        signing.choose(None)
    with pytest.raises(ConflictError, match="already exists"):
        signing.create_signing_key("release")
    with pytest.raises(InvalidInputError, match="invalid signing key name"):
        signing.create_signing_key("../etc/passwd")
    with pytest.raises(NotFoundError, match="no signing key 'missing'"):
        signing.load_private("missing")


def test_catalog_serves_only_published_digests(ws) -> None:  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model
    from modelport.runtimes.edge.catalog import find_published, record_published

    X, y = load_iris(return_X_y=True, as_frame=True)
    register_model("small", LogisticRegression(max_iter=1000).fit(X, y), X=X, ws=ws)
    assert find_published("ab" * 32, ws=ws) is None
    record_published("small:1", "cd" * 32, {"group": "g", "percent": 50}, ws=ws)
    assert find_published("cd" * 32, ws=ws) == {"model": "small", "version": 1, "group": "g",
                                                "percent": 50}
