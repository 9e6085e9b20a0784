"""Prediction-log files through ``modelport server``: ``LogFiles`` as calls to
``/api/v1/prediction-logs/MODEL/VERSION[/HOUR/FILE]`` — and the delayed labels of that
version under ``…/MODEL/VERSION/labels[/HOUR/FILE]``.

``put`` streams a complete file up under its SHA-256 (``X-Content-SHA256``) and the
incarnation of the version it was logged for (``X-Model-Incarnation``,
``core/incarnation.py``): the server hashes it as it arrives and keeps it only whole,
matching, and while that version is still the one registered, so a cut-off upload leaves
nothing there and the writer keeps its local copy to send again. ``open`` downloads a
file whole (one flush's rows) and checks its size against the listing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelport.core.artifacts import read_pieces
from modelport.core.incarnation import HEADER
from modelport.core.log_orphans import Orphans
from modelport.core.logfiles import (
    LABELS,
    LOGS,
    LogFile,
    check_file,
    check_since,
    file_of,
    file_sha256,
)
from modelport.core.store.rest.api import TRANSFER_TIMEOUT_S, Api, segment
from modelport.errors import ArtifactIntegrityError

DIGEST_HEADER = "X-Content-SHA256"
# between two pieces: a writer's thread waits no longer on a server that stopped answering
# (the file stays and is sent after the next flush); a file is one flush, a few MB
UPLOAD_TIMEOUT_S = 30.0


class RestLogFiles:
    """``LogFiles`` on a server, over an ``Api`` (a remote artifact store's: one connection
    pool per workspace, see ``RestArtifacts.log_files``)."""

    def __init__(self, api: Api, kind: str = LOGS) -> None:
        self.api = api
        self.kind = kind

    @classmethod
    def at(cls, url: str, token: str | None = None, project: str = "default",
           kind: str = LOGS) -> RestLogFiles:
        """A client of its own (``close`` it)."""
        return cls(Api.connect(url, token, project), kind)

    def _at(self, model: str, version: int, file: LogFile | None = None) -> str:
        path = f"/prediction-logs/{segment(model)}/{int(version)}"
        if self.kind == LABELS:
            path += "/labels"
        if file is None:
            return path
        check_file(model, version, file.hour, file.name)
        return f"{path}/{file.hour}/{file.name}"

    def list(self, model: str, version: int, since: float | None = None) -> list[LogFile]:
        """``since`` goes as the query's: the server lists (and sends) only the recent
        hours. (A server older than ``since`` ignores it and sends them all: more to
        read, the same report — readers choose their hours from what is listed.)"""
        check_since(since)
        return [LogFile(str(f["hour"]), str(f["name"]), int(f["size"]))
                for f in self.api.call("GET", self._at(model, version), since=since)]

    def open(self, model: str, version: int, file: LogFile) -> Any:
        import pyarrow as pa

        with self.api.stream("GET", self._at(model, version, file),
                             timeout=TRANSFER_TIMEOUT_S) as response:
            data = response.read()
        if len(data) != file.size:
            raise ArtifactIntegrityError(f"{file.name} arrived with {len(data):,} bytes, not "
                                         f"the {file.size:,} listed")
        return pa.BufferReader(data)

    def put(self, model: str, version: int, path: Path, incarnation: str | None = None
            ) -> None:
        """Send a complete file; with ``incarnation``, the server keeps it only while that
        version of ``model:version`` is registered (``VersionGoneError`` otherwise)."""
        _, _, file = file_of(path)
        headers = {DIGEST_HEADER: file_sha256(path)}
        if incarnation is not None:
            headers[HEADER] = incarnation
        with path.open("rb") as fh:
            self.api.call("PUT", self._at(model, version, file), content=read_pieces(fh),
                          timeout=UPLOAD_TIMEOUT_S, headers=headers)

    def orphans(self, erase: bool) -> Orphans:
        """The server's logs and labels of models that no longer exist (``erase``: and
        erase them): an admin key's call (``core/log_orphans.py``)."""
        method = "DELETE" if erase else "GET"
        return Orphans.from_dict(self.api.call(method, "/prediction-logs/orphans"))

    def close(self) -> None:
        self.api.client.close()
