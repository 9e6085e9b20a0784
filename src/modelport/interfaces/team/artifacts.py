"""``/api/v1/artifacts/SHA256``: blobs through the server, streamed both ways.

An upload is hashed and counted as its bytes arrive and written to a temp file
(``core.upload``): a wrong digest is a 422, a body past the limit a 413 the
moment it passes it, a sender that stops halfway leaves nothing — and only a
whole, matching blob is moved under its digest. A download is read from the
server's own artifact store (a directory or any fsspec URL, so clients need no
cloud credentials) a piece at a time. Either way the server holds about one
piece of a blob in memory, whatever its size.

A blob a run, a model version or a stream checkpoint names belongs to their projects,
and so does one a project uploaded (``ScopedStore.sees_artifact``): asked about in any
other project (or by a key limited to other models) it is answered 404, exactly as a
missing one — knowing a digest reads nothing.

No route deletes a blob on request: a writer that found a blob stored marks it stored
now (``POST …/touch``), and an ``admin``'s ``POST /api/v1/artifacts:gc`` removes the blobs
no record names that were last stored before a grace period (``core.artifact_gc``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import anyio.to_thread
from litestar import Request, Router, get, head, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from modelport.core.artifact_gc import GRACE_S
from modelport.core.artifacts import check_digest
from modelport.core.store.scoped import ScopedStore
from modelport.core.upload import Destination, Upload
from modelport.errors import ArtifactIntegrityError, NotFoundError, TooLargeError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.lifecycle.gc import collect_garbage

log = logging.getLogger("modelport.team")
MAX_ARTIFACT = 16 * 1024**3  # bytes; a server may lower it with state.max_artifact


@dataclass
class Stored:
    digest: str
    size: int


async def receive(request: Request, destination: Destination,  # type: ignore[type-arg]
                  digest: str, limit: int, what: str) -> int:
    """The request's body into ``destination`` under ``digest``: refused at once when it
    declares more than ``limit`` bytes, counted and hashed as it arrives, kept only whole
    and matching; its size."""
    if (request.content_length or 0) > limit:
        raise TooLargeError(f"{what} may be at most {limit:,} bytes")
    with Upload(destination, digest, limit, what) as up:
        async for piece in request.stream():
            up.write(piece)
        await anyio.to_thread.run_sync(up.finish)
    return up.size


@put("/{digest:str}", guards=[needs("write")], status_code=201,
     request_max_body_size=MAX_ARTIFACT)
async def upload(request: Request, state: State, store: ProjectStore,  # type: ignore[type-arg]
                 digest: FromPath[str]) -> Stored:
    """A whole, matching blob is the uploading project's from then on (recorded once it
    is stored: a blob whose record failed is uploaded again by the client that misses
    it)."""
    size = await receive(request, state.ws.artifacts, digest,
                         int(getattr(state, "max_artifact", MAX_ARTIFACT)), "an artifact")
    await anyio.to_thread.run_sync(cast(ScopedStore, store).uploaded, digest)
    return Stored(digest, size)


@get("/{digest:str}", guards=[needs("read")], sync_to_thread=True)
def download(state: State, store: ProjectStore, digest: FromPath[str]) -> Stream:
    """The blob as stored, checked on the way out: a blob altered at rest is logged here
    and still sent whole, so the client — which checks every load itself — refuses it
    saying why, rather than seeing a connection cut halfway."""
    try:
        pieces = state.ws.artifacts.chunks(_readable(store, digest))
    except NotFoundError:  # the same words for a missing blob and another project's
        raise _missing(digest) from None
    return Stream(_logged(pieces), media_type="application/octet-stream")


def _readable(store: ProjectStore, digest: str) -> str:
    """``digest``, if the request's project may read that blob; else the 404 of a missing
    blob."""
    if not _sees(store, digest):
        raise _missing(digest)
    return digest


def _sees(store: ProjectStore, digest: str) -> bool:
    return cast(ScopedStore, store).sees_artifact(check_digest(digest))


def _missing(digest: str) -> NotFoundError:
    return NotFoundError(f"artifact {digest[:12]}… is missing from this server")


def _logged(pieces: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield from pieces
    except ArtifactIntegrityError as exc:
        log.error("served an altered artifact: %s", exc.message)


@head("/{digest:str}", guards=[needs("read")], sync_to_thread=True)
def exists(state: State, store: ProjectStore, digest: FromPath[str]) -> None:
    if not state.ws.artifacts.exists(_readable(store, digest)):
        raise _missing(digest)


@post("/{digest:str}/touch", guards=[needs("write")], status_code=204, sync_to_thread=True)
def touch(state: State, store: ProjectStore, digest: FromPath[str]) -> None:
    """A writer found the blob stored and will record it: it is marked stored now, so the
    collector's grace period covers that writer. A 404 (missing, or another project's):
    the writer uploads it."""
    if not state.ws.artifacts.touch(_readable(store, digest)):
        raise _missing(digest)


@dataclass
class Collect:
    grace_s: float = GRACE_S
    dry_run: bool = False


@post("/artifacts:gc", guards=[needs("admin")], status_code=200, sync_to_thread=True)
def collect(state: State, data: JSONBody[Collect]) -> dict[str, Any]:
    """The server's collection, on its own store against every project's records."""
    return collect_garbage(data.grace_s, data.dry_run, ws=state.ws).to_dict()


router = Router("/api/v1/artifacts", route_handlers=[upload, download, exists, touch],
                tags=["artifacts"])
collector = Router("/api/v1", route_handlers=[collect], tags=["artifacts"])
