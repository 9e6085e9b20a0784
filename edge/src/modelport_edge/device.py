"""A device's bundle directory, and the one state file that makes updates atomic.

Layout::

    DIR/bundles/<digest>.mpb     verified bundles (at most current + previous are kept)
    DIR/bundles/<digest>.part    a download in progress (never loaded)
    DIR/state.json               {"current", "previous", "pending", "refused"}

``state.json`` is replaced by write-temp + fsync + rename + fsync of the
directory, so after a crash (even ``kill -9`` or power loss) it holds either
the old or the new state, never half of one. An update records itself in
``pending`` before it starts; on restart, a pending update is undone — the
device comes back on the bundle it ran before, fully verified, and the
retained notice starts the update again from scratch.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_REFUSED = 32


@dataclass
class State:
    current: str | None = None
    previous: str | None = None
    pending: dict[str, Any] | None = None
    # digests refused or rolled back: {"reason", "message", "at", "retry"}
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)
    # updates cut short by a crash, by digest: after a few, the digest is refused
    interrupted: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"current": self.current, "previous": self.previous, "pending": self.pending,
                "refused": self.refused, "interrupted": self.interrupted}


class DeviceDir:
    """Where an agent keeps its bundles; every change of state is one atomic rename."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.bundles = self.root / "bundles"
        self.bundles.mkdir(parents=True, exist_ok=True)
        self.state_path = self.root / "state.json"

    def bundle_path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self.bundles / f"{digest}.mpb"

    def part_path(self, digest: str) -> Path:
        return self.bundle_path(digest).with_suffix(".part")

    def load(self) -> State:
        try:
            doc = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return State()
        return State(doc.get("current"), doc.get("previous"), doc.get("pending"),
                     dict(doc.get("refused") or {}), dict(doc.get("interrupted") or {}))

    def save(self, state: State) -> None:
        if len(state.refused) > MAX_REFUSED:
            state.refused = dict(list(state.refused.items())[-MAX_REFUSED:])
        write_atomic(self.state_path, json.dumps(state.to_dict(), indent=1).encode())

    def store(self, digest: str, data: bytes) -> Path:
        """Keep a verified bundle under its digest (atomically: a reader never sees half)."""
        path = self.bundle_path(digest)
        write_atomic(path, data)
        return path

    def clean(self, state: State) -> None:
        """Remove partial downloads and bundles no state entry points at."""
        keep = {state.current, state.previous}
        for path in self.bundles.iterdir():
            if path.suffix == ".part" or (path.suffix == ".mpb" and path.stem not in keep) \
                    or path.name.startswith(".tmp-"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        replace_atomic(Path(tmp), path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_atomic(written: Path, path: Path) -> None:
    """Put a written and synced file at ``path`` in one step (same filesystem), then sync
    the directory so the new name survives a power cut."""
    os.replace(written, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform can open a directory
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
