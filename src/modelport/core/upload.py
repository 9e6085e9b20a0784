"""Receiving a blob in pieces: hashed and counted as they arrive, kept only if whole.

The pieces go to a temp file in the store's ``staging`` directory; ``finish``
syncs it, checks its SHA-256 against the digest it was sent under and hands it
to the store (``put_file``: a rename beside local blobs, one upload to an
object store). A wrong digest, an oversize body or a sender that stops halfway
leaves nothing under the digest and no temp file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

from modelport.core.artifacts import check_digest
from modelport.errors import DigestMismatchError, TooLargeError


class Destination(Protocol):
    """Where a received blob goes: an ``ArtifactStore``, or one prediction-log file
    (``core.logfiles.Receiver``)."""

    staging: Path

    def put_file(self, path: Path, digest: str) -> None: ...


class Upload:
    """One blob being received into ``store`` under ``digest``, at most ``limit`` bytes.

    >>> with Upload(store, digest, limit) as up:  # doctest: +SKIP
    ...     for piece in pieces:
    ...         up.write(piece)
    ...     up.finish()
    """

    def __init__(self, store: Destination, digest: str, limit: int,
                 what: str = "an artifact") -> None:
        self.store, self.digest, self.limit, self.what = store, check_digest(digest), limit, what
        self.size = 0
        self._hash = hashlib.sha256()
        store.staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=store.staging, prefix=".up-")
        self.path = Path(name)
        self._fh = os.fdopen(fd, "wb")

    def write(self, piece: bytes) -> None:
        """Take the next piece; ``TooLargeError`` as soon as the blob passes the limit."""
        self.size += len(piece)
        if self.size > self.limit:
            raise TooLargeError(f"{self.what} may be at most {self.limit:,} bytes")
        self._hash.update(piece)
        self._fh.write(piece)

    def finish(self) -> None:
        """Sync, check the digest and put the blob in the store (blocking: off the loop)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        got = self._hash.hexdigest()
        if got != self.digest:
            raise DigestMismatchError(
                f"the upload hashes to {got[:12]}…, not {self.digest[:12]}… — it was "
                "altered or cut short on the way; nothing was stored")
        self.store.put_file(self.path, self.digest)

    def discard(self) -> None:
        """Forget whatever arrived (idempotent; after ``finish`` there is nothing left)."""
        self._fh.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *_: object) -> None:
        self.discard()
