"""Sending a machine's complete log files to the server that keeps them, never losing one.

A writer behind a ``modelport server`` (the prediction log, the delayed-label drain)
first writes each file whole under its own ``MODELPORT_HOME`` (the spool), then — on its
own thread, never a request's — ``send`` uploads what the server lacks, oldest first,
and deletes each file here once the server kept it. A server that cannot be reached (or
answers 5xx) stops the round: the files stay, in order, for the next ``send`` — also a
later writer's on this machine, which starts by picking up what an earlier one left. A
file the server refuses (4xx) stays here too, logged. ``failures`` counts both.

Each file goes up with the incarnation stamped into it (``core/incarnation.py``). One
the server answers ``version_gone`` belongs to a version that no longer exists (its
model was deleted, maybe made again under the name): no later send could place it, and
keeping it would send it again at every start — it is deleted here, logged and counted
(``dropped``).

>>> spool = Spool(labels_root(ws), label_uploads(ws))                  # doctest: +SKIP
>>> spool.added(path); spool.send()                                    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path

from modelport.core.incarnation import VersionGoneError, stamped
from modelport.core.logfiles import PREFIX, LogFiles, file_of
from modelport.errors import ModelportError

log = logging.getLogger("modelport.predlog")


class Spool:
    """Complete files under ``root`` (the layout of ``core/logfiles.py``) to ``upload``.

    Not thread-safe: one writer thread calls ``added`` and ``send``."""

    def __init__(self, root: Path, upload: LogFiles | None, what: str = "prediction-log") -> None:
        self.root = root
        self.upload = upload
        self.what = what
        self.uploaded = 0  # files the server kept
        self.failures = 0  # attempts that failed (the file stays, sent again later)
        self.dropped = 0  # files of a version that is gone, deleted unsent
        self._unsent: list[Path] | None = None  # files to send, oldest first (None: not looked)

    def left_here(self) -> list[Path]:
        """Complete files under the spool, oldest hour (then oldest file) first."""
        found = []
        for path in self.root.glob(f"model=*/version=*/hour=*/{PREFIX}*.parquet"):
            try:
                found.append((path.parent.name, path.stat().st_mtime, path))
            except OSError:  # removed meanwhile
                continue
        return [path for *_, path in sorted(found)]

    @property
    def unsent(self) -> int:
        """Files written here that the server does not have yet (as last looked)."""
        return len(self._unsent or ())

    def added(self, path: Path) -> None:
        """A complete file was just written here (what a first ``send`` finds anyway)."""
        if self._unsent is not None:
            self._unsent.append(path)

    def send(self) -> None:
        """Upload what the server lacks, oldest first; stop at the first failure that is
        the server's (it is down: the next call tries again)."""
        if self.upload is None:
            return
        if self._unsent is None:  # what an earlier writer on this machine left
            self._unsent = self.left_here()
        while self._unsent:
            path = self._unsent[0]
            try:
                model, version, _ = file_of(path)
                self.upload.put(model, version, path, stamped(path))
            except FileNotFoundError:  # removed by the retention meanwhile
                pass
            except ModelportError as exc:
                if exc.code == VersionGoneError.code:
                    self._drop(path, exc)
                    self._unsent.pop(0)
                    continue
                self.failures += 1
                if exc.status >= 500:  # unreachable or failing: keep the order, retry later
                    log.warning("uploading %s files failed (%d file(s) wait, sent again "
                                "later): %s", self.what, len(self._unsent), exc)
                    return
                log.error("the server refused %s file %s (kept here): %s", self.what, path,
                          exc)
            except OSError as exc:
                self.failures += 1
                log.error("reading %s file %s to upload failed: %s", self.what, path, exc)
            except Exception:  # anything else: as if the server failed — kept, sent later
                self.failures += 1
                log.exception("uploading %s file %s failed", self.what, path)
                return
            else:
                self.uploaded += 1
                path.unlink(missing_ok=True)
            self._unsent.pop(0)

    def _drop(self, path: Path, exc: ModelportError) -> None:
        """Delete a file the server will never keep: its version is gone."""
        self.dropped += 1
        path.unlink(missing_ok=True)
        log.warning("dropped %s file %s: %s", self.what, path, exc)
