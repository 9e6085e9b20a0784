"""Content-addressed artifact storage.

A blob's name is its SHA-256 (``sha256/ab/cdef…``), so identical content is
stored once and a reader can check what it got: every ``get`` re-hashes the
bytes and refuses a blob that no longer matches its name. Local files by
default; any fsspec URL (``s3://``, ``gs://``, ``memory://``…) for the rest.

No blob is deleted the moment nothing seems to name it: each store knows when a blob was
last stored — written, or found present by a writer — and ``collect`` removes only blobs
no record names that were last stored longer ago than a grace period
(``core.artifact_gc``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Protocol

from modelport.core.artifact_gc import Collected, Named, Stamp, sweep
from modelport.errors import ArtifactIntegrityError, InvalidInputError, NotFoundError
from modelport_edge.device import replace_atomic, write_atomic

CHUNK = 1024 * 1024  # what a streamed read or copy holds at a time
BLOBS = "sha256"  # the directory every blob is under
TOUCHED = "touched"  # an object store's markers: when a present blob was last found stored


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` if it is a SHA-256 in lowercase hex, else ``InvalidInputError``."""
    _key(digest)
    return digest


def is_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _key(digest: str) -> str:
    if not is_digest(digest):
        raise InvalidInputError(f"not a SHA-256 digest: {digest!r}")
    return f"{BLOBS}/{digest[:2]}/{digest[2:]}"


def _listed(prefix: str, name: str) -> str | None:
    """The digest a blob's two path parts (``ab``, ``cdef…``) spell, None for any other
    name (a temp file, a stray directory)."""
    return prefix + name if len(prefix) == 2 and is_digest(prefix + name) else None


@functools.cache
def private_staging() -> Path:
    """Where a blob received for an object store or a server waits for its upload: a
    directory of this process's own (0700, made once) in the system's temp directory.
    Never a fixed name there: the directory is everyone's, and one another user made
    first could have a file swapped between its digest check and its upload — or keep
    this user out."""
    return Path(tempfile.mkdtemp(prefix="modelport-staging-"))


def write_whole(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half:
    a temp file beside it, synced, renamed over it, the directory synced — the device
    runtime's own write (``modelport_edge`` never imports modelport, so the one copy
    lives there), in a directory made first if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


class ArtifactStore(Protocol):
    """Stores blobs by digest. ``put`` is idempotent; ``get`` and ``chunks`` verify.

    ``put_file`` and ``chunks`` move a blob in pieces, so a blob of any size costs
    ``CHUNK`` bytes of memory; ``staging`` is where a blob being received is
    written first (beside the blobs when they are local, so adopting it is a rename).

    Nothing here deletes a blob on request: ``collect`` does, for blobs no record names
    that were last stored before its grace period. So ``put`` and ``put_file`` of a
    blob already present mark it stored now (``touch``), as a write would: the writer
    that found it has the grace period to record what names it."""

    url: str
    staging: Path

    def put(self, data: bytes) -> str: ...

    def put_file(self, path: Path, digest: str) -> None:
        """Adopt the file at ``path``, whose SHA-256 the caller checked is ``digest``:
        it appears whole under its digest or not at all, and ``path`` is gone."""
        ...

    def get(self, digest: str) -> bytes: ...

    def chunks(self, digest: str) -> Iterator[bytes]:
        """The blob in pieces, hashed as they go: ``ArtifactIntegrityError`` after the
        last one if they do not match ``digest`` (a reader must not trust the pieces
        before that)."""
        ...

    def exists(self, digest: str) -> bool: ...

    def touch(self, digest: str) -> bool:
        """Mark a present blob stored now; False if it is not stored."""
        ...

    def collect(self, named: Named, grace_s: float, dry_run: bool = False) -> Collected:
        """Delete the blobs ``named`` does not name, last stored over ``grace_s`` ago."""
        ...


def _verified(digest: str, data: bytes, where: str) -> bytes:
    if sha256(data) != digest:
        raise _altered(digest, where)
    return data


def _altered(digest: str, where: str) -> ArtifactIntegrityError:
    return ArtifactIntegrityError(
        f"artifact {digest[:12]}… at {where} does not match its recorded digest — "
        "it was modified or truncated; refusing to load it")


def verified_chunks(digest: str, pieces: Iterator[bytes], where: str) -> Iterator[bytes]:
    """``pieces`` passed on while hashed; ``ArtifactIntegrityError`` at the end if the
    whole does not hash to ``digest``."""
    hasher = hashlib.sha256()
    for piece in pieces:
        hasher.update(piece)
        yield piece
    if hasher.hexdigest() != digest:
        raise _altered(digest, where)


def read_pieces(fh: IO[bytes]) -> Iterator[bytes]:
    """``fh`` in ``CHUNK``-sized pieces, closed at the end."""
    with fh:
        while piece := fh.read(CHUNK):
            yield piece


class LocalArtifactStore:
    """Blobs as files under a directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.staging = self.root / ".staging"

    def _path(self, digest: str) -> Path:
        return self.root / _key(digest)

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        path = self._path(digest)
        if not _refresh(path, len(data)):
            write_whole(path, data)
        return digest

    def touch(self, digest: str) -> bool:
        return _refresh(self._path(digest))

    def put_file(self, path: Path, digest: str) -> None:
        target = self._path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_atomic(path, target)

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise self._missing(digest) from None
        return _verified(digest, data, str(path))

    def chunks(self, digest: str) -> Iterator[bytes]:
        path = self._path(digest)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise self._missing(digest) from None
        return verified_chunks(digest, read_pieces(fh), str(path))

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(f"artifact {digest[:12]}… is missing from {self.root}")

    def exists(self, digest: str) -> bool:
        return self._path(digest).exists()

    def collect(self, named: Named, grace_s: float, dry_run: bool = False) -> Collected:
        return sweep(self, named, grace_s, dry_run)

    def digests(self) -> Iterator[str]:
        top = self.root / BLOBS
        for prefix in sorted(top.iterdir()) if top.is_dir() else ():
            if prefix.is_symlink() or not prefix.is_dir():  # never followed out of the store
                continue
            for blob in sorted(prefix.iterdir()):  # listed whole: the sweep deletes from it
                if (digest := _listed(prefix.name, blob.name)) is not None:
                    yield digest

    def stamp(self, digest: str) -> Stamp | None:
        try:
            st = self._path(digest).lstat()  # a link's own age, never its target's
        except FileNotFoundError:
            return None
        return Stamp(st.st_mtime, st.st_size)

    def delete_older(self, digest: str, before: float) -> bool:
        stamp = self.stamp(digest)
        if stamp is None or stamp.at >= before:
            return False
        self._path(digest).unlink(missing_ok=True)
        return True


def _refresh(path: Path, size: int | None = None) -> bool:
    """Mark the blob at ``path`` stored now (its mtime): False if it is missing, or is not
    ``size`` bytes (a damaged copy, which the caller writes again)."""
    try:
        if size is not None and path.stat().st_size != size:
            return False
        os.utime(path)
    except FileNotFoundError:
        return False
    except PermissionError:  # another user's blob in a shared directory: present, as it is
        return True
    return True


class FsspecArtifactStore:
    """Blobs on any filesystem fsspec knows; same layout and checks as the local store."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self._base = fsspec.core.url_to_fs(self.url)
        self.staging = private_staging()

    def _path(self, digest: str) -> str:
        return f"{self._base}/{_key(digest)}"

    def _marker(self, digest: str) -> str:
        """Where a present blob's last reuse is marked: an object store cannot change an
        object's modified time without writing it again, so an empty object beside the
        blobs is written instead, and the newer of the two times is the blob's."""
        return f"{self._base}/{TOUCHED}/{_key(digest)}"

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        if not self.touch(digest):
            self._write(self._path(digest), lambda path: self.fs.pipe_file(path, data))
        return digest

    def _write(self, path: str, write: Callable[[str], object]) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        write(path)

    def touch(self, digest: str) -> bool:
        if not self.exists(digest):
            return False
        self._write(self._marker(digest), lambda path: self.fs.pipe_file(path, b""))
        return True

    def put_file(self, path: Path, digest: str) -> None:
        """One upload of the whole file (an object store shows an object whole or not
        at all), streamed from disk; the local copy goes either way."""
        try:
            if not self.touch(digest):
                self._write(self._path(digest), lambda target: self.fs.put_file(str(path), target))
        finally:
            path.unlink(missing_ok=True)

    def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            data = self.fs.cat_file(path)
        except FileNotFoundError:
            raise self._missing(digest) from None
        return _verified(digest, data, f"{self.url}/{_key(digest)}")

    def chunks(self, digest: str) -> Iterator[bytes]:
        try:
            fh = self.fs.open(self._path(digest), "rb")
        except FileNotFoundError:
            raise self._missing(digest) from None
        return verified_chunks(digest, read_pieces(fh), f"{self.url}/{_key(digest)}")

    def _missing(self, digest: str) -> NotFoundError:
        return NotFoundError(f"artifact {digest[:12]}… is missing from {self.url}")

    def exists(self, digest: str) -> bool:
        return bool(self.fs.exists(self._path(digest)))

    def collect(self, named: Named, grace_s: float, dry_run: bool = False) -> Collected:
        return sweep(self, named, grace_s, dry_run)

    def digests(self) -> Iterator[str]:
        top = f"{self._base}/{BLOBS}/"
        for path in self.fs.find(top):  # a listing, not a walk: no link is followed
            prefix, _, name = path.removeprefix(top).partition("/")
            if path.startswith(top) and (digest := _listed(prefix, name)) is not None:
                yield digest

    def stamp(self, digest: str) -> Stamp | None:
        try:
            size = int(self.fs.info(self._path(digest))["size"])
        except FileNotFoundError:
            return None
        times = [self._modified(self._path(digest))]
        if self.fs.exists(self._marker(digest)):
            times.append(self._modified(self._marker(digest)))
        return Stamp(max(times), size)

    def _modified(self, path: str) -> float:
        """``path``'s modified time; a filesystem that cannot tell keeps its blobs (the
        time is then the far future)."""
        try:
            return float(self.fs.modified(path).timestamp())
        except (NotImplementedError, FileNotFoundError):
            return math.inf

    def delete_older(self, digest: str, before: float) -> bool:
        stamp = self.stamp(digest)
        if stamp is None or stamp.at >= before:
            return False
        try:
            self.fs.rm_file(self._path(digest))
        except FileNotFoundError:  # another collection's, a moment ago
            return False
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._marker(digest))
        return True
