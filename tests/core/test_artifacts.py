from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.artifacts import CHUNK, ArtifactStore, sha256
from modelport.core.store import open_artifacts
from modelport.core.upload import Upload
from modelport.errors import (
    ArtifactIntegrityError,
    DigestMismatchError,
    InvalidInputError,
    NotFoundError,
    TooLargeError,
)
from team_server import team_server


@pytest.fixture(params=["local", "memory", "rest"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    """Every artifact backend passes the same suite: a directory, fsspec, and a team
    server (over its own directory) through its REST client."""
    if request.param == "local":
        yield open_artifacts(str(tmp_path / "artifacts"))
    elif request.param == "rest":
        with team_server(Settings(home=tmp_path / "server")) as (url, token):
            remote = open_artifacts(url, token)
            yield remote
            remote.close()  # type: ignore[attr-defined]
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


def nothing_named(digests: Collection[str]) -> set[str]:
    return set()


def test_only_the_collector_deletes_and_only_past_its_grace(store: ArtifactStore) -> None:
    """No store deletes a blob on request; a blob stored — or found stored (``touch``) —
    within the grace period stays, named or not (a server collects against its own
    records: it is never told what the client's name)."""
    digest = store.put(b"x")
    assert not hasattr(store, "delete")
    assert store.touch(digest) and not store.touch(sha256(b"never stored"))
    kept = store.collect(nothing_named, 3600)
    assert (kept.deleted, kept.recent) == ([], 1) and store.exists(digest)
    assert store.collect(nothing_named, 0).deleted == [digest]
    assert not store.exists(digest)


def test_a_file_is_adopted_whole_and_read_back_in_pieces(store: ArtifactStore,
                                                         tmp_path: Path) -> None:
    data = os.urandom(2 * CHUNK + 5)
    path = tmp_path / "blob"
    path.write_bytes(data)
    store.put_file(path, sha256(data))
    assert not path.exists() and store.exists(sha256(data))
    pieces = list(store.chunks(sha256(data)))
    assert b"".join(pieces) == data and max(len(p) for p in pieces) <= CHUNK
    with pytest.raises(NotFoundError, match="missing"):
        list(store.chunks(sha256(b"never stored")))


def test_an_upload_is_kept_only_whole_and_matching(store: ArtifactStore) -> None:
    data = b"w" * 1000
    with Upload(store, sha256(data), limit=1000) as up:
        up.write(data[:400])
        up.write(data[400:])
        up.finish()
    assert store.get(sha256(data)) == data
    claimed, staged = sha256(b"other"), [up.path]
    with Upload(store, claimed, limit=1000) as up, \
            pytest.raises(DigestMismatchError, match="nothing was stored"):
        staged.append(up.path)
        up.write(data)
        up.finish()
    with Upload(store, claimed, limit=999) as up, pytest.raises(TooLargeError):
        staged.append(up.path)
        up.write(data)
    assert not store.exists(claimed)
    assert not any(path.exists() for path in staged)  # no temp file left behind


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
