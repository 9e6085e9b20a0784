"""Content-addressed artifact storage.

A blob's name is its SHA-256 (``sha256/ab/cdef…``), so identical content is
stored once and a reader can check what it got: every ``get`` re-hashes the
bytes and refuses a blob that no longer matches its name. Local files by
default; any fsspec URL (``s3://``, ``gs://``, ``memory://``…) for the rest.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from modelport.errors import ArtifactIntegrityError, InvalidInputError, NotFoundError
from modelport_edge.device import write_atomic


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInputError(f"not a SHA-256 digest: {digest!r}")
    return f"sha256/{digest[:2]}/{digest[2:]}"


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half:
    a temp file beside it, synced, renamed over it, the directory synced — the device
    runtime's own write (``modelport_edge`` never imports modelport, so the one copy
    lives there), in a directory made first if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


class ArtifactStore(Protocol):
    """Stores blobs by digest. ``put`` is idempotent; ``get`` verifies."""

    url: str

    def put(self, data: bytes) -> str: ...

    def get(self, digest: str) -> bytes: ...

    def exists(self, digest: str) -> bool: ...

    def delete(self, digest: str) -> None: ...


def _verified(digest: str, data: bytes, where: str) -> bytes:
    if sha256(data) != digest:
        raise ArtifactIntegrityError(
            f"artifact {digest[:12]}… at {where} does not match its recorded digest — "
            "it was modified or truncated; refusing to load it"
        )
    return data


class LocalArtifactStore:
    """Blobs as files under a directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, digest: str) -> Path:
        return self.root / _key(digest)

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        path = self._path(digest)
        if path.exists() and path.stat().st_size == len(data):
            return digest
        write_whole(path, data)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"artifact {digest[:12]}… is missing from {self.root}") from None
        return _verified(digest, data, str(path))

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def delete(self, digest: str) -> None:
        self._path(digest).unlink(missing_ok=True)


class FsspecArtifactStore:
    """Blobs on any filesystem fsspec knows; same layout and checks as the local store."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.url)

    def _path(self, digest: str) -> str:
        return f"{self._base}/{_key(digest)}"

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        path = self._path(digest)
        if not self.fs.exists(path):
            self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            self.fs.pipe_file(path, data)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise NotFoundError(f"artifact {digest[:12]}… is missing from {self.url}") from None
        return _verified(digest, data, f"{self.url}/{_key(digest)}")

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def delete(self, digest: str) -> None:
        if self.exists(digest):
            self.fs.rm_file(self._path(digest))


def open_artifacts(url: str) -> ArtifactStore:
    """The artifact store for ``url``: a path or ``file://`` is local, the rest fsspec."""
    scheme = urlparse(url).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return LocalArtifactStore(url.removeprefix("file://"))
    return FsspecArtifactStore(url)
