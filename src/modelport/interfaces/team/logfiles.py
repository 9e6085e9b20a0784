"""``/api/v1/prediction-logs/MODEL/VERSION[/HOUR/FILE]``: prediction logs kept on the server.

A workspace of the server (``modelport serve --log-sample``, ``batch predict``, ``stream
run``) uploads each complete Parquet file of its log here, and ``modelport monitor`` on
any machine lists and reads them back (``core/store/rest/logfiles.py``). The files live
in the server's own artifact store under ``<artifacts>/predictions`` (the layout of
``core/logfiles.py``): a directory, or any fsspec URL (``modelport server --artifacts
s3://…``: ``core/fsspec_logfiles.py``), so the server's workspace reads them as a local
one does.

Like everything else they belong to the model's project: a model another project holds,
or one a key limited to other models does not reach, is answered 404 as a missing one —
for listing, reading and uploading alike. Every path part is checked against what
writers make before it touches a path (422 otherwise). An upload is streamed under the
SHA-256 it names (``X-Content-SHA256``), hashed and counted as it arrives (413 past the
limit, 422 on a mismatch) and moved into place only whole: an interrupted one leaves
nothing visible. A writer names the life of the version it logged
(``X-Model-Incarnation``, ``core/incarnation.py``): the file is kept only while that
version is the one registered under its name and number — checked again once the file is
in place, and taken back if not (410 ``version_gone``; ``_upload`` says why that holds
against a concurrent delete). An upload naming none (a writer older than the header) is
kept on the name and number alone, checked the same twice.

A listing takes ``?since=EPOCH_SECONDS``: only the hours that can hold records at or
after it, the older ones passed over by name — a monitor of the last hour transfers (and
the server opens) a few hours, not a version's whole history. A ``since`` that is no
number, or no instant the layout's hours reach (NaN, an infinity, past year 9999), is a
422 ``invalid_input`` like any other bad field.

The delayed labels of a version (``lifecycle/labels.py``) go the same way under
``…/MODEL/VERSION/labels[/HOUR/FILE]``: same checks, same project, same uploads.

``DELETE /MODEL/VERSION`` removes a version's logs and labels (admin: they are the
record of what a model answered, so only an administrator erases them early; the write
is audit-logged as every write is). ``GET /orphans`` lists, and ``DELETE /orphans``
erases, those of models that no longer exist in any project (admin: ``core/
log_orphans.py``) — what models deleted before their delete erased files left. With a
retention (``modelport server --log-retention 30d``), the server removes hours older than
it from both, as a writer does from its own directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from litestar import Litestar, Request, Router, delete, get, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from litestar.response import File

from modelport.core.fsspec_logfiles import FsspecLogFiles
from modelport.core.incarnation import HEADER, VersionGoneError, claimed, incarnation
from modelport.core.log_orphans import orphans
from modelport.core.log_stores import open_log_files
from modelport.core.logfiles import (
    KINDS,
    LABELS,
    LOGS,
    MAX_FILE,
    PART,
    KeptLogFiles,
    LocalLogFiles,
    LogFile,
    Retention,
    check_file,
    check_since,
    check_version,
)
from modelport.core.store.registry import VersionRecord
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.artifacts import receive
from modelport.interfaces.team.inputs import invalid

DIGEST_HEADER = "x-content-sha256"
RETENTION_CHECK_S = 300.0  # how often the server looks for hours past its retention
log = logging.getLogger("modelport.server")


@dataclass
class Kept:
    hour: str
    name: str
    size: int


@dataclass
class Removed:
    files: int  # prediction-log and label files deleted


def _files(state: State, kind: str = LOGS) -> KeptLogFiles:
    """The server's own files of ``kind``: in its artifact store, a directory or any
    fsspec URL."""
    files = open_log_files(state.ws.settings.artifacts_url, kind=kind)
    if not isinstance(files, LocalLogFiles | FsspecLogFiles):
        raise InvalidInputError("this server keeps no prediction logs: its artifact store "
                                "is another server")
    return files


def _reached(store: ProjectStore, model: str, version: int) -> VersionRecord:
    """404 unless ``model:version`` is registered in the request's project and in view."""
    check_version(model, version)
    return store.registry.get_version(model, version)  # 404: missing, or another project's


def _alive(store: ProjectStore, model: str, version: int, claim: str | None) -> None:
    """``_reached``, and with ``claim`` (the incarnation the writer logged,
    ``core/incarnation.py``) ``VersionGoneError`` unless the version registered under
    ``model:version`` is that one — also when none is, in the request's view: the same
    answer whether it was deleted, never was, or is another project's, and one the
    writer acts on (it drops the file)."""
    try:
        record = _reached(store, model, version)
    except NotFoundError:
        if claim is None:
            raise
        record = None
    if claim is not None and (record is None or incarnation(
            model, version, record["created"], record["artifact_digest"]) != claim):
        raise VersionGoneError(f"{model}:{version} is no longer the version this file was "
                               "logged for (deleted, or a new model of its name): it is not "
                               "kept — a writer drops it")


async def _upload(kind: str, request: Request, state: State,  # type: ignore[type-arg]
                  store: ProjectStore, model: str, version: int, hour: str,
                  file: str) -> Kept:
    """Receive a file, then check again that its version lives, taking the file back if
    not. The first check spares a dead version's body; the second is what holds: a
    model's delete (``lifecycle.registry.delete_model``) erases its files, deletes its
    records, then erases again. A file moved into place before that second erase goes
    with it; one moved in after it finds the records gone here, and is taken back. So
    no order of the two leaves a deleted version's file for the next model of its name
    — on any number of server replicas (both sides go through the shared database and
    store; no lock in one process would hold across them)."""
    claim = claimed(request.headers.get(HEADER))
    receiver = _files(state, kind).receiver(model, version, hour, file)  # 422 before anything
    await anyio.to_thread.run_sync(_alive, store, model, version, claim)
    size = await receive(request, receiver, request.headers.get(DIGEST_HEADER, ""),
                         int(getattr(state, "max_log_file", MAX_FILE)), "a prediction-log file")
    try:
        await anyio.to_thread.run_sync(_alive, store, model, version, claim)
    except Exception:  # gone meanwhile, or the check failed: not kept either way
        await anyio.to_thread.run_sync(receiver.take_back)
        raise
    return Kept(hour, file, size)


def _listing(kind: str, state: State, store: ProjectStore, model: str, version: int,
             since: float | None) -> list[LogFile]:
    try:
        check_since(since)
    except InvalidInputError as exc:
        raise invalid("since", exc.message, "query") from None
    _reached(store, model, version)
    return [f for f in _files(state, kind).list(model, version, since)
            if PART.fullmatch(f.name)]


def _download(kind: str, state: State, store: ProjectStore, model: str, version: int,
              hour: str, file: str) -> File:
    check_file(model, version, hour, file)
    _reached(store, model, version)
    found = _files(state, kind).locate(model, version, hour, file)
    if found is None:
        raise NotFoundError(f"{kind} file {hour}/{file} of {model}:{version} "
                            "is not on this server")
    return File(found.path, file_system=found.file_system,
                media_type="application/octet-stream", filename=file)


@put("/{model:str}/{version:int}/{hour:str}/{file:str}", guards=[needs("write")],
     status_code=201, request_max_body_size=MAX_FILE)
async def upload(request: Request, state: State, store: ProjectStore,  # type: ignore[type-arg]
                 model: FromPath[str], version: FromPath[int], hour: FromPath[str],
                 file: FromPath[str]) -> Kept:
    return await _upload(LOGS, request, state, store, model, version, hour, file)


@get("/{model:str}/{version:int}", guards=[needs("read")], sync_to_thread=True)
def listing(state: State, store: ProjectStore, model: FromPath[str], version: FromPath[int],
            since: FromQuery[float | None] = None) -> list[LogFile]:
    """The complete files of ``model:version``, oldest hour first; ``since`` (epoch
    seconds): only those of the hours that end after it."""
    return _listing(LOGS, state, store, model, version, since)


@get("/{model:str}/{version:int}/{hour:str}/{file:str}", guards=[needs("read")],
     sync_to_thread=True)
def download(state: State, store: ProjectStore, model: FromPath[str], version: FromPath[int],
             hour: FromPath[str], file: FromPath[str]) -> File:
    return _download(LOGS, state, store, model, version, hour, file)


@put("/{model:str}/{version:int}/labels/{hour:str}/{file:str}", guards=[needs("write")],
     status_code=201, request_max_body_size=MAX_FILE)
async def upload_labels(request: Request, state: State,  # type: ignore[type-arg]
                        store: ProjectStore, model: FromPath[str], version: FromPath[int],
                        hour: FromPath[str], file: FromPath[str]) -> Kept:
    return await _upload(LABELS, request, state, store, model, version, hour, file)


@get("/{model:str}/{version:int}/labels", guards=[needs("read")], sync_to_thread=True)
def labels_listing(state: State, store: ProjectStore, model: FromPath[str],
                   version: FromPath[int], since: FromQuery[float | None] = None
                   ) -> list[LogFile]:
    """The label files of ``model:version``, as ``listing`` gives the logs."""
    return _listing(LABELS, state, store, model, version, since)


@get("/{model:str}/{version:int}/labels/{hour:str}/{file:str}", guards=[needs("read")],
     sync_to_thread=True)
def labels_download(state: State, store: ProjectStore, model: FromPath[str],
                    version: FromPath[int], hour: FromPath[str], file: FromPath[str]) -> File:
    return _download(LABELS, state, store, model, version, hour, file)


@delete("/{model:str}/{version:int}", guards=[needs("admin")], status_code=200,
        sync_to_thread=True)
def remove(state: State, store: ProjectStore, model: FromPath[str],
           version: FromPath[int]) -> Removed:
    """Delete every prediction-log and label file of ``model:version`` on this server."""
    _reached(store, model, version)
    return Removed(sum(_files(state, kind).remove(model, version) for kind in KINDS))


@get("/orphans", guards=[needs("admin")], sync_to_thread=True)
def orphans_found(state: State) -> dict[str, Any]:
    """The logs and labels of models that no longer exist (``core/log_orphans.py``), per
    model: every project's, so an admin's."""
    return _orphans(state, erase=False)


@delete("/orphans", guards=[needs("admin")], status_code=200, sync_to_thread=True)
def orphans_erased(state: State) -> dict[str, Any]:
    """Erase the logs and labels of models that no longer exist: an admin's, as erasing a
    version's is."""
    return _orphans(state, erase=True)


def _orphans(state: State, erase: bool) -> dict[str, Any]:
    projects = state.ws.store.projects  # the server's own store: every project's names
    return orphans([_files(state, kind) for kind in KINDS],
                   lambda name: projects.project_of("models", name) is not None,
                   erase).to_dict()


def prune(state: State, now: float) -> int:
    """Remove the hours that ended more than the retention before ``now`` (both kinds);
    how many hour directories went. Nothing without a retention."""
    retention_s = getattr(state, "log_retention_s", None)
    if retention_s is None:
        return 0
    try:
        kinds = [_files(state, kind) for kind in KINDS]
    except InvalidInputError:  # keeps no logs
        return 0
    return Retention(kinds, retention_s).prune(now)


@asynccontextmanager
async def pruning(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan: with a retention, old hours are removed every few minutes."""
    import time

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await anyio.to_thread.run_sync(prune, app.state, time.time())
            except Exception:  # a disk error, a race: logged; the next pass tries again
                log.exception("removing old prediction logs failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETENTION_CHECK_S)

    if getattr(app.state, "log_retention_s", None) is None:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(loop(stop))
    try:
        yield
    finally:
        stop.set()
        await task


router = Router("/api/v1/prediction-logs",
                route_handlers=[upload, listing, download, upload_labels, labels_listing,
                                labels_download, remove, orphans_found, orphans_erased],
                tags=["prediction logs"])
