"""Writing a job's output: part files in a private staging directory, published by rename.

The staging directory sits next to the output (``.NAME.partial``), so a reader
of ``NAME`` never sees a partial result: ``NAME`` appears, whole, in one
``rename`` at the very end. Each chunk becomes one part file, written to a
temporary name, flushed to disk and renamed; a small commit record renamed
after it is what marks the chunk done. A job killed at any instant leaves
parts that are either committed or ignored, and a re-run of the same job
skips exactly the committed ones — every input row lands in the output once.

Layout of a published output::

    NAME/part-FFFFF-SSSSS-CCCCC.parquet   predictions (+ kept columns), per chunk
    NAME/_quarantine/part-….parquet       rejected rows with _file, _row, _reason, _line
    NAME/_manifest.json                   job id, model, counts, options

Readers such as pyarrow, pandas, Spark and DuckDB skip names starting with
``_`` or ``.`` when reading a directory, so ``pd.read_parquet(NAME)`` gives the
predictions alone. Output is to a local (or mounted) directory: object stores
have no atomic rename.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

from modelport.errors import ConflictError, InvalidInputError
from modelport.runtimes.batch.jobs import MANIFEST
from modelport.runtimes.batch.scoring import ChunkResult

FORMATS = ("parquet", "csv")
JOB_FILE = "_job.json"
COMMITS = "_commits"
QUARANTINE = "_quarantine"


class Staging:
    """The job's private directory; one process at a time holds its lock.

    >>> staging = Staging("out/scores", "parquet")           # doctest: +SKIP
    >>> resumed = staging.open(fingerprint, restart=False)  # doctest: +SKIP
    """

    def __init__(self, output: str | Path, fmt: str) -> None:
        if fmt not in FORMATS:
            raise InvalidInputError(f"unknown output format {fmt!r} — use parquet or csv")
        if "://" in str(output) and not str(output).startswith("file://"):
            raise InvalidInputError(
                f"--output {output} is not a local directory — batch output is published by an "
                "atomic rename, which object stores lack; write to a local or mounted path")
        self.output = Path(str(output).removeprefix("file://")).absolute()
        self.format = fmt
        self.path = self.output.parent / f".{self.output.name}.partial"
        self._lock: int | None = None

    # ------------------------------------------------------------ opening

    def open(self, fingerprint: dict[str, Any], restart: bool = False) -> dict[str, Any] | None:
        """Lock the staging directory; return the staged job's record if this resumes it.

        A staged job with other settings is refused (its parts would not fit this
        one) unless ``restart`` discards it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            self.path.mkdir(mode=0o700)
        self._check_private()
        self._acquire()
        job_file = self.path / JOB_FILE
        staged = json.loads(job_file.read_text()) if job_file.exists() else None
        if staged is not None and restart:
            self._clear()
            staged = None
        if staged is not None:
            differs = [k for k, v in fingerprint.items() if staged["fingerprint"].get(k) != v]
            if differs:
                self.close()
                raise ConflictError(
                    f"an unfinished job {staged['job_id'][:12]} with other settings "
                    f"({', '.join(differs)}) is staged in {self.path} — re-run it with the same "
                    "options to resume it, or pass --restart to discard it")
        (self.path / COMMITS).mkdir(exist_ok=True)
        (self.path / QUARANTINE).mkdir(exist_ok=True)
        self._cleanup_temporaries()
        return staged

    def record(self, job_id: str, version: int, fingerprint: dict[str, Any]) -> None:
        """Remember which job (and model version) this staging directory belongs to."""
        _write_atomic(self.path / JOB_FILE, json.dumps(
            {"job_id": job_id, "version": version, "fingerprint": fingerprint}).encode())

    def _check_private(self) -> None:
        """The staging directory is cleared and renamed: it must be a real directory of
        this user's, not a link another user planted next to the output (in a shared
        directory it could point at anything this job may delete or write)."""
        info = os.lstat(self.path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise ConflictError(f"staging path {self.path} is not a private directory of "
                                "this user (a link, a file or another user's) — remove it "
                                "and re-run")

    def _acquire(self) -> None:
        import fcntl

        fd = os.open(self.path / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConflictError(f"another process is running this job (staging {self.path} is "
                                "locked) — wait for it or stop it first") from None
        self._lock = fd

    def close(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def discard(self) -> None:
        """Remove the staging directory altogether (a job that committed nothing)."""
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def _clear(self) -> None:
        for child in self.path.iterdir():
            if child.name == ".lock":
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()

    def _cleanup_temporaries(self) -> None:
        for d in (self.path, self.path / QUARANTINE, self.path / COMMITS):
            for tmp in d.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)

    # ------------------------------------------------------------ progress

    def committed(self) -> tuple[dict[tuple[int, int], set[int]], set[tuple[int, int]],
                                 dict[str, int]]:
        """Committed chunks per split, splits finished, and the counts they hold."""
        chunks: dict[tuple[int, int], set[int]] = {}
        done: set[tuple[int, int]] = set()
        totals = {"rows": 0, "failed": 0, "parts": 0}
        for record in (self.path / COMMITS).iterdir():
            name = record.name
            if name.startswith("split-") and name.endswith(".done"):
                f, s = name[6:-5].split("-")
                done.add((int(f), int(s)))
            elif name.startswith("part-") and name.endswith(".json"):
                f, s, c = name[5:-5].split("-")
                chunks.setdefault((int(f), int(s)), set()).add(int(c))
                counts = json.loads(record.read_text())
                totals["rows"] += counts["rows"]
                totals["failed"] += counts["failed"]
                totals["parts"] += 1
        return chunks, done, totals

    def commit(self, result: ChunkResult) -> None:
        """Write one chunk's part (and its rejected rows), then mark it committed."""
        if result.quarantine is not None and result.quarantine.num_rows:
            self._write_table(result.quarantine, self.path / QUARANTINE / self._name(result.part))
        self._write_table(result.output, self.path / self._name(result.part))
        counts = {"rows": result.rows, "failed": result.failed}
        _write_atomic(self.path / COMMITS / f"{result.part}.json", json.dumps(counts).encode(),
                      sync=False)

    def mark_done(self, file: int, split: int) -> None:
        _write_atomic(self.path / COMMITS / f"split-{file:05d}-{split:05d}.done", b"",
                      sync=False)

    def _name(self, part: str) -> str:
        return f"{part}.{self.format}"

    def _write_table(self, table: Any, path: Path) -> None:
        tmp = path.with_name(f".tmp-{path.name}")
        if self.format == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            import pyarrow.csv as pcsv

            pcsv.write_csv(table, tmp)
        _fsync(tmp)
        os.replace(tmp, path)

    # ------------------------------------------------------------ publishing

    def publish(self, manifest: dict[str, Any], overwrite: bool = False) -> None:
        """Make the output appear, whole, under its name.

        Recoverable at every step: the manifest is written while the commits and the
        job record are still staged (a kill before the rename resumes the same job,
        with nothing left to score, and publishes again); the commits are dropped only
        after the rename (a kill then leaves a published output whose manifest names
        the job: ``published``, and the job's next run closes its row)."""
        quarantine = self.path / QUARANTINE
        if quarantine.exists() and not any(quarantine.iterdir()):
            quarantine.rmdir()
        _write_atomic(self.path / MANIFEST, json.dumps(manifest, indent=2).encode())
        (self.path / ".lock").unlink(missing_ok=True)
        _fsync(self.path)
        old = None
        if self.output.exists():
            if not overwrite:
                raise ConflictError(f"output {self.output} already exists — choose another path "
                                    "or pass --overwrite")
            old = self.output.with_name(f".{self.output.name}.old-{os.getpid()}-{time.time():.0f}")
            os.replace(self.output, old)
        os.replace(self.path, self.output)
        _fsync(self.output.parent)
        self.close()
        self.tidy_published()
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def published(self) -> dict[str, Any] | None:
        """The manifest of the published output, if there is one."""
        try:
            data = json.loads((self.output / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def tidy_published(self) -> None:
        """Drop the staging records a published output no longer needs."""
        shutil.rmtree(self.output / COMMITS, ignore_errors=True)
        (self.output / JOB_FILE).unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, sync: bool = True) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)
