"""Artifacts through the team server: streamed, digest-checked both ways, never half-kept."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.core.artifacts import sha256
from modelport.core.store.rest.artifacts import RestArtifacts
from modelport.errors import ArtifactIntegrityError
from team_server import team_server

pytestmark = pytest.mark.storage_independent


@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, str]]:
    with team_server(settings) as (url, token):
        yield url, token


@pytest.fixture
def remote(server: tuple[str, str]) -> Iterator[RestArtifacts]:
    store = RestArtifacts(*server)
    yield store
    store.close()


def blobs(settings: Settings) -> list[Path]:
    """Every file under the server's artifact directory: blobs and anything staged."""
    return sorted(p for p in Path(settings.artifacts_url).rglob("*") if p.is_file())


def test_a_blob_goes_up_and_comes_back_checked(remote: RestArtifacts, settings: Settings
                                              ) -> None:
    data = bytes(range(256)) * 5000
    digest = remote.put(data)
    assert digest == sha256(data) and remote.exists(digest) and remote.get(digest) == data
    assert remote.put(data) == digest  # already there: not sent again
    assert [p.name for p in blobs(settings)] == [digest[2:]]
    with pytest.raises(Exception, match="missing from"):
        remote.get(sha256(b"never sent"))


def test_a_wrong_digest_is_422_and_nothing_is_kept(server: tuple[str, str],
                                                   settings: Settings) -> None:
    url, token = server
    claimed = sha256(b"what I meant to send")
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}
                      ) as c:
        refused = c.put(f"/artifacts/{claimed}", content=b"something else")
        assert refused.status_code == 422 and refused.json()["code"] == "digest_mismatch"
        assert "nothing was stored" in refused.json()["error"]
        assert c.put("/artifacts/not-a-digest", content=b"x").status_code == 400
        assert c.head(f"/artifacts/{claimed}").status_code == 404
    assert blobs(settings) == []


def test_a_blob_altered_at_rest_is_refused_on_load(remote: RestArtifacts, settings: Settings
                                                   ) -> None:
    digest = remote.put(b"weights" * 100_000)
    [path] = blobs(settings)
    path.write_bytes(b"tampered" + path.read_bytes()[8:])
    with pytest.raises(ArtifactIntegrityError, match="does not match its recorded digest"):
        remote.get(digest)


def test_an_interrupted_upload_leaves_nothing(server: tuple[str, str], settings: Settings
                                              ) -> None:
    url, token = server
    host, port = url.removeprefix("http://").split(":")
    digest = hashlib.sha256(b"x" * 1_000_000).hexdigest()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"PUT /api/v1/artifacts/{digest} HTTP/1.1\r\nHost: {host}\r\n"
                     f"Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\n"
                     .encode() + b"x" * 300_000)
        deadline = time.monotonic() + 10
        while not blobs(settings) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [p.parent.name for p in blobs(settings)] == [".staging"]  # being received
    deadline = time.monotonic() + 10
    while blobs(settings) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert blobs(settings) == []


def test_an_oversize_upload_is_413_as_it_arrives(settings: Settings) -> None:
    with team_server(settings, max_artifact=1000) as (url, token):
        headers = {"Authorization": f"Bearer {token}"}
        digest = sha256(b"y" * 5000)
        declared = httpx.put(f"{url}/api/v1/artifacts/{digest}", content=b"y" * 5000,
                             headers=headers)
        assert declared.status_code == 413 and declared.json()["code"] == "too_large"
        streamed = httpx.put(f"{url}/api/v1/artifacts/{digest}", headers=headers,
                             content=iter([b"y" * 800, b"y" * 800, b"y" * 3400]))
        assert streamed.status_code == 413
    assert blobs(settings) == []


def test_reading_needs_a_key(server: tuple[str, str]) -> None:
    refused = httpx.get(f"{server[0]}/api/v1/artifacts/{'a' * 64}")
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
