from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.core.artifacts import ArtifactStore, open_artifacts, sha256
from modelport.errors import ArtifactIntegrityError, InvalidInputError, NotFoundError


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    """Every artifact backend passes the same suite."""
    if request.param == "local":
        yield open_artifacts(str(tmp_path / "artifacts"))
    else:
        url = f"memory://mp-{uuid.uuid4().hex}"
        yield open_artifacts(url)


def test_put_get_roundtrip_is_content_addressed(store: ArtifactStore) -> None:
    digest = store.put(b"hello")
    assert digest == sha256(b"hello")
    assert store.put(b"hello") == digest  # idempotent
    assert store.get(digest) == b"hello"
    assert store.exists(digest)


def test_missing_artifact(store: ArtifactStore) -> None:
    with pytest.raises(NotFoundError, match="missing"):
        store.get(sha256(b"never stored"))


def test_bad_digest_is_refused(store: ArtifactStore) -> None:
    with pytest.raises(InvalidInputError, match="SHA-256"):
        store.get("../../etc/passwd")


def test_delete(store: ArtifactStore) -> None:
    digest = store.put(b"x")
    store.delete(digest)
    assert not store.exists(digest)
    store.delete(digest)  # deleting twice is fine


def test_tampered_local_artifact_is_refused(tmp_path: Path) -> None:
    store = open_artifacts(f"file://{tmp_path}/a")
    digest = store.put(b"model bytes")
    path = tmp_path / "a" / "sha256" / digest[:2] / digest[2:]
    path.write_bytes(b"model bytez")
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded digest"):
        store.get(digest)


def test_tampered_fsspec_artifact_is_refused() -> None:
    import fsspec

    url = f"memory://mp-{uuid.uuid4().hex}"
    store = open_artifacts(url)
    digest = store.put(b"model bytes")
    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{url.removeprefix('memory://')}/sha256/{digest[:2]}/{digest[2:]}", b"evil")
    with pytest.raises(ArtifactIntegrityError):
        store.get(digest)
