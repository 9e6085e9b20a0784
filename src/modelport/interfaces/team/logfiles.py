"""``/api/v1/prediction-logs/MODEL/VERSION[/HOUR/FILE]``: prediction logs kept on the server.

A workspace of the server (``modelport serve --log-sample``, ``batch predict``, ``stream
run``) uploads each complete Parquet file of its log here, and ``modelport monitor`` on
any machine lists and reads them back (``core/store/rest/logfiles.py``). The files live
in the server's own log directory (``<artifacts>/predictions``, the layout of
``core/logfiles.py``), so the server's workspace reads them as a local one does.

Like everything else they belong to the model's project: a model another project holds,
or one a key limited to other models does not reach, is answered 404 as a missing one —
for listing, reading and uploading alike. Every path part is checked against what
writers make before it touches a path (422 otherwise). An upload is streamed under the
SHA-256 it names (``X-Content-SHA256``), hashed and counted as it arrives (413 past the
limit, 422 on a mismatch) and moved into place only whole: an interrupted one leaves
nothing visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio.to_thread
from litestar import Request, Router, get, put
from litestar.datastructures import State
from litestar.params import FromPath
from litestar.response import File

from modelport.core.logfiles import (
    MAX_FILE,
    PART,
    LocalLogFiles,
    LogFile,
    check_file,
    open_log_files,
)
from modelport.core.upload import Upload
from modelport.errors import InvalidInputError, NotFoundError, TooLargeError
from modelport.interfaces.team.access import ProjectStore, needs

DIGEST_HEADER = "x-content-sha256"


@dataclass
class Kept:
    hour: str
    name: str
    size: int


def _files(state: State) -> LocalLogFiles:
    files = open_log_files(state.ws.settings.artifacts_url)
    if not isinstance(files, LocalLogFiles):
        raise InvalidInputError("this server keeps no prediction logs: its artifact store "
                                "is not a directory")
    return files


def _reached(store: ProjectStore, model: str, version: int) -> None:
    """404 unless ``model:version`` is registered in the request's project and in view."""
    check_file(model, version, "2000-01-01T00", "part-" + "0" * 32 + ".parquet")
    store.registry.get_version(model, version)  # 404: missing, or another project's


@put("/{model:str}/{version:int}/{hour:str}/{file:str}", guards=[needs("write")],
     status_code=201, request_max_body_size=MAX_FILE)
async def upload(request: Request, state: State, store: ProjectStore,  # type: ignore[type-arg]
                 model: FromPath[str], version: FromPath[int], hour: FromPath[str],
                 file: FromPath[str]) -> Kept:
    receiver = _files(state).receiver(model, version, hour, file)  # 422 before anything
    await anyio.to_thread.run_sync(_reached, store, model, version)
    digest = request.headers.get(DIGEST_HEADER, "")
    limit = int(getattr(state, "max_log_file", MAX_FILE))
    if (request.content_length or 0) > limit:
        raise TooLargeError(f"a prediction-log file may be at most {limit:,} bytes")
    with Upload(receiver, digest, limit, "a prediction-log file") as up:
        async for piece in request.stream():
            up.write(piece)
        await anyio.to_thread.run_sync(up.finish)
    return Kept(hour, file, up.size)


@get("/{model:str}/{version:int}", guards=[needs("read")], sync_to_thread=True)
def listing(state: State, store: ProjectStore, model: FromPath[str],
            version: FromPath[int]) -> list[LogFile]:
    _reached(store, model, version)
    return [f for f in _files(state).list(model, version) if PART.fullmatch(f.name)]


@get("/{model:str}/{version:int}/{hour:str}/{file:str}", guards=[needs("read")],
     sync_to_thread=True)
def download(state: State, store: ProjectStore, model: FromPath[str], version: FromPath[int],
             hour: FromPath[str], file: FromPath[str]) -> File:
    check_file(model, version, hour, file)
    _reached(store, model, version)
    path = _files(state).open(model, version, LogFile(hour, file, 0))
    if not path.is_file():
        raise NotFoundError(f"prediction-log file {hour}/{file} of {model}:{version} "
                            "is not on this server")
    return File(path, media_type="application/octet-stream", filename=file)


router = Router("/api/v1/prediction-logs", route_handlers=[upload, listing, download],
                tags=["prediction logs"])
