"""Building bundles the way an attacker, a broken network or a bad model would."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from modelport_edge.bundle import MANIFEST, MODEL, pack


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tampered_model(data: bytes) -> bytes:
    """The same signed manifest, a model with one byte changed."""
    files = entries(data)
    model = bytearray(files[MODEL])
    model[len(model) // 2] ^= 0xFF
    files[MODEL] = bytes(model)
    return rezip(files)


def resigned(data: bytes, key: Any, **changes: Any) -> bytes:
    """The bundle's manifest with ``changes``, signed again by ``key``."""
    import json

    files = entries(data)
    manifest = json.loads(files[MANIFEST])
    manifest.update(changes)
    return pack(manifest, files[MODEL], key)


def wrong_smoke(data: bytes, key: Any) -> bytes:
    """A correctly signed bundle whose recorded smoke outputs the model does not give:
    what a device sees when the model misbehaves on it."""
    import json

    manifest = json.loads(entries(data)[MANIFEST])
    smoke = manifest["smoke"]
    labels = smoke["expected"]["prediction"]
    classes = manifest["signature"]["classes"]
    smoke["expected"]["prediction"] = [classes[(classes.index(v) + 1) % len(classes)]
                                       for v in labels]
    return resigned(data, key, smoke=smoke)
