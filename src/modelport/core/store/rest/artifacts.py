"""The artifact store of a remote workspace: blobs through ``modelport server``.

``/api/v1/artifacts/SHA256`` is the blob: ``PUT`` streams it up (the server
checks the digest as it arrives and keeps nothing on a mismatch), ``GET``
streams it down and this side checks the digest again — every load is
verified here, whatever happened on the server or the wire. The client needs
the server's URL and a key, never the object store's credentials.

A blob the server already has is not sent again: ``POST …/touch`` marks it stored
now, so the server's collector (``POST /api/v1/artifacts:gc``, run there) gives the
writer that found it its grace period.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from modelport.core.artifact_gc import Collected, Named, check_grace
from modelport.core.artifacts import (
    CHUNK,
    check_digest,
    private_staging,
    read_pieces,
    sha256,
    verified_chunks,
)
from modelport.core.store.rest.api import TRANSFER_TIMEOUT_S, Api
from modelport.errors import NotFoundError, StoreUnavailableError, first_line

if TYPE_CHECKING:
    from modelport.core.store.rest.logfiles import RestLogFiles



class RestArtifacts:
    def __init__(self, url: str, token: str | None = None, project: str = "default") -> None:
        # the project a blob is read in: another project's blobs answer as missing ones
        self.api = Api.connect(url, token, project)
        self.url = self.api.url
        self.staging = private_staging()

    def log_files(self, kind: str = "predictions") -> RestLogFiles:
        """The server's prediction-log (or label) files, over this store's connections."""
        from modelport.core.store.rest.logfiles import RestLogFiles

        return RestLogFiles(self.api, kind)

    def _at(self, digest: str) -> str:
        return f"/artifacts/{check_digest(digest)}"

    def put(self, data: bytes) -> str:
        digest = sha256(data)
        if not self.touch(digest):
            self.api.call("PUT", self._at(digest), content=data)
        return digest

    def put_file(self, path: Path, digest: str) -> None:
        try:
            if not self.touch(digest):
                with path.open("rb") as fh:
                    self.api.call("PUT", self._at(digest), content=read_pieces(fh),
                                  timeout=TRANSFER_TIMEOUT_S)
        finally:
            path.unlink(missing_ok=True)

    def get(self, digest: str) -> bytes:
        return b"".join(self.chunks(digest))

    def chunks(self, digest: str) -> Iterator[bytes]:
        return verified_chunks(digest, self._download(digest), f"{self.url} (downloaded)")

    def _download(self, digest: str) -> Iterator[bytes]:
        with self.api.stream("GET", self._at(digest), timeout=TRANSFER_TIMEOUT_S) as response:
            try:
                yield from response.iter_bytes(CHUNK)
            except self.api.transport_error as exc:  # cut off halfway: say so, keep nothing
                raise StoreUnavailableError(f"the download of {digest[:12]}… from {self.url} "
                                            f"broke off: {first_line(exc)}") from exc

    def exists(self, digest: str) -> bool:
        try:
            self.api.call("HEAD", self._at(digest))
        except NotFoundError:
            return False
        return True

    def touch(self, digest: str) -> bool:
        try:
            self.api.call("POST", f"{self._at(digest)}/touch")
        except NotFoundError:  # not there (or another project's): the caller uploads it
            return False
        return True

    def collect(self, named: Named, grace_s: float, dry_run: bool = False) -> Collected:
        """Run by the server, on its store and against its records (``named`` is this
        side's view, not asked): an admin key's call."""
        return Collected.from_dict(self.api.call(
            "POST", "/artifacts:gc", {"grace_s": check_grace(grace_s), "dry_run": dry_run},
            timeout=TRANSFER_TIMEOUT_S))

    def close(self) -> None:
        self.api.client.close()

