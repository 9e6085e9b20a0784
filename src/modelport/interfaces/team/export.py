"""``POST /api/v1/models/NAME/versions/N/export-onnx``: give a version its ONNX copy.

The server runs the library's own ``export_onnx`` on its workspace, as
``modelport models export-onnx`` does: convert, check parity on the version's
example and sample rows, store the copy and record the result on the version
(a failed check is recorded too, and answered 422). Converting takes seconds
of CPU, so it runs in a worker thread, at most ``AT_ONCE`` at a time, and one
version is never exported twice at once (409).
"""

from __future__ import annotations

import threading

from litestar import Router, post
from litestar.params import FromPath

from modelport.core.store.registry import VersionRecord
from modelport.errors import ConflictError
from modelport.interfaces.team.access import ProjectStore, ProjectWorkspace, needs
from modelport.lifecycle.refs import Ref

AT_ONCE = 2  # exports converting together; more wait their turn (the server has cores to share)
_turns = threading.BoundedSemaphore(AT_ONCE)
_lock = threading.Lock()
_running: set[tuple[str, int]] = set()


@post("/", guards=[needs("write")], status_code=201, sync_to_thread=True)
def export(store: ProjectStore, ws: ProjectWorkspace, name: FromPath[str],
           version: FromPath[int]) -> VersionRecord:
    """Convert version ``version`` of ``name`` to ONNX and check parity; answers the version
    with its ``onnx`` record. 409 if it already has a copy that passed, or one is being made."""
    record: VersionRecord = store.registry.get_version(name, version)  # 404s first
    if (record["onnx"] or {}).get("passed"):
        raise ConflictError(f"{name}:{version} already has an ONNX copy that passed its "
                            "parity check")
    with _lock:
        if (name, version) in _running:
            raise ConflictError(f"{name}:{version} is being exported to ONNX already")
        _running.add((name, version))
    from modelport.lifecycle.loading import export_onnx  # numpy and the formats: when used

    try:
        with _turns:
            export_onnx(Ref(name, version=version), ws=ws)
    finally:
        with _lock:
            _running.discard((name, version))
    return store.registry.get_version(name, version)  # type: ignore[no-any-return]


router = Router("/api/v1/models/{name:str}/versions/{version:int}/export-onnx",
                route_handlers=[export], tags=["models"])
