"""A batch prediction job: input files in, predictions out, exactly once, resumable.

The loop: resolve the model version and the input files, check every file's
columns against the signature before any work, cut the input into splits,
hand the splits not yet done to an executor (``parallel.py``), and commit each
chunk it returns as a part in the staging directory (``writer.py``). When
every split is done the output is published by one rename. A job that dies —
an error, Ctrl-C, ``kill -9``, a lost machine — leaves its committed parts;
the same command run again picks up from there, in the same ``jobs`` row.

>>> report = predict_job("churn@champion", "s3://bucket/day=*/part-*.parquet",
...                      "scores/day", keep=("customer_id",))     # doctest: +SKIP
>>> report.rows, report.failed                                    # doctest: +SKIP
(5000000, 0)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelport.config import DEFAULT_RUNTIME
from modelport.core.signature import Signature
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError, SchemaError
from modelport.lifecycle.loading import artifact_for, check_runtime
from modelport.lifecycle.predlogs import log_location, logs_root, uploads
from modelport.lifecycle.registry import ModelVersion, get_version, resolve
from modelport.runtimes.batch import jobs
from modelport.runtimes.batch.parallel import Task, get_backend
from modelport.runtimes.batch.reader import (
    InputFile,
    input_digest,
    plan_splits,
    resolve_input,
)
from modelport.runtimes.batch.scoring import POLICIES, ChunkResult, ModelSpec, ScoreOptions
from modelport.runtimes.batch.writer import QUARANTINE, Staging
from modelport.runtimes.prediction_log import PredictionLog, check_sample

Progress = Callable[[int, int | None], None]  # rows done (incl. rejected), rows expected
DEFAULT_BATCH = 65_536
_SAVE_EVERY = 1.0  # seconds between job-row progress updates
LOG_FLUSH_S = 1.0  # how often logged rows of a job are written


@dataclass
class JobReport:
    job: jobs.Job
    rows: int
    failed: int
    parts: int
    seconds: float
    output: str
    quarantine: str | None
    resumed: bool
    empty_files: int
    scored: int = 0  # rows (kept or rejected) this run scored: a resume counts only its own

    @property
    def rows_per_second(self) -> float:
        """The rate of this run: rows scored before a resume are not in it."""
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job.id, "model": self.job.ref, "status": self.job.status,
                "rows": self.rows, "failed": self.failed, "parts": self.parts,
                "seconds": round(self.seconds, 3), "rows_per_second": round(self.rows_per_second),
                "output": self.output, "quarantine": self.quarantine, "resumed": self.resumed,
                "empty_files": self.empty_files, "scored": self.scored}


def predict_job(ref: str, input: str, output: str, *, format: str = "parquet",
                batch_size: int = DEFAULT_BATCH, workers: int | None = None,
                keep: Sequence[str] = (), backend: str = "local", on_error: str = "fail",
                proba: bool = True, runtime: str = DEFAULT_RUNTIME, overwrite: bool = False,
                restart: bool = False, ray_address: str | None = None,
                progress: Progress | None = None, log_sample: float = 0.0,
                ws: Workspace | None = None) -> JobReport:
    """Predict every row of ``input`` with model ``ref`` into the directory ``output``.

    ``log_sample``: the share of scored rows written to the prediction log (sampled in
    the workers, written by this process), for ``modelport monitor``."""
    ws = current(ws)
    _check_options(batch_size, on_error, runtime)
    check_sample(log_sample)
    executor = get_backend(backend, workers, ray_address)
    staging = Staging(output, format)
    if staging.output.exists() and not overwrite:
        finished = _finish_published(staging, ws)
        if finished is not None:  # killed between its publish and the job row's update
            return finished
        raise InvalidInputError(f"output {staging.output} already exists — choose another path "
                                "or pass --overwrite")
    keep = tuple(dict.fromkeys(keep))
    files = resolve_input(input)
    _check_columns(files, get_version(ref, ws=ws), keep)
    digest = input_digest(files)
    fingerprint: dict[str, Any] = {"model": ref, "input": input, "input_digest": digest,
                                   "batch_size": batch_size, "format": format, "keep": list(keep),
                                   "on_error": on_error, "proba": proba, "runtime": runtime}
    staged = staging.open(fingerprint, restart=restart)
    try:
        version = get_version(resolve(ref, ws=ws) if staged is None
                              else f"{resolve(ref, ws=ws).name}:{staged['version']}", ws=ws)
        options = {**{k: v for k, v in fingerprint.items() if k not in ("model", "input")},
                   "backend": backend, "workers": workers, "ref": ref,
                   "files": len(files), "staging": str(staging.path),
                   "expected_rows": _expected_rows(files)}  # a progress bar's end
        if log_sample > 0:
            options["prediction_log"] = log_location(ws)
        job = _open_job(staged, version, input, str(staging.output), options, digest, ws)
        staging.record(job.id, version.version, fingerprint)
    except BaseException:
        staging.close()
        raise
    started = time.time()
    try:
        report = _run(job, staging, files, _spec(version, runtime, ws),
                      ScoreOptions(batch_size, keep, on_error, proba, log_sample), executor,
                      progress, overwrite, started, ws)
    except BaseException as exc:
        staging.close()
        _, _, totals = staging.committed()
        if totals["parts"] == 0:
            staging.discard()  # nothing to resume: leave no trace next to the output
        jobs.finish_job(job.id, "failed", error=jobs.failure(exc), rows=totals["rows"],
                        rows_failed=totals["failed"], parts=totals["parts"], ws=ws)
        raise
    report.resumed = staged is not None
    return report


def _check_options(batch_size: int, on_error: str, runtime: str) -> None:
    if batch_size < 1:
        raise InvalidInputError(f"--batch-size must be at least 1, got {batch_size}")
    if on_error not in POLICIES:
        raise InvalidInputError(f"unknown --on-error policy {on_error!r} — use one of "
                                f"{', '.join(POLICIES)}")
    check_runtime(runtime)


def _check_columns(files: list[InputFile], version: ModelVersion, keep: Sequence[str]) -> None:
    """Every file must hold the model's columns and the kept ones: checked before any work."""
    outputs = {"prediction", *(o.name for o in version.signature.outputs),
               *(f"proba_{c}" for c in version.signature.classes or [])}
    clash = [k for k in keep if k in outputs]
    if clash:
        raise InvalidInputError(f"--keep column {clash[0]!r} would clash with an output column "
                                "of the same name")
    for f in files:
        if f.rows == 0:
            continue
        have = set(f.columns)
        missing = [n for n in version.signature.columns if n not in have]
        if missing:
            raise SchemaError(
                f"{f.url} lacks column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing[:5])}{', …' if len(missing) > 5 else ''}"
                f" that {version.ref} needs")
        types = dict(zip(f.columns, f.types, strict=False))
        for spec in version.signature.inputs:
            if types.get(spec.name, "numeric") not in ("numeric", "text"):
                raise SchemaError(
                    f"column {spec.name!r} in {f.url} holds {types[spec.name]} values but "
                    f"{version.ref} expects numeric values — convert it first")
        absent = [k for k in keep if k not in have]
        if absent:
            raise InvalidInputError(f"--keep column {absent[0]!r} is not in {f.url}")


def _spec(version: ModelVersion, runtime: str, ws: Workspace) -> ModelSpec:
    """The bytes workers load, chosen as ``modelport.load`` would, digest-verified here."""
    fmt, digest = artifact_for(version, runtime)
    text = version.signature.text
    return ModelSpec(fmt, ws.artifacts.get(digest), version.signature.to_dict(), version.name,
                     version.version, None if text is None else ws.artifacts.get(text.tokenizer),
                     version.incarnation)


def _open_job(staged: dict[str, Any] | None, version: ModelVersion, input: str, output: str,
              options: dict[str, Any], digest: str, ws: Workspace) -> jobs.Job:
    if staged is not None:
        try:
            return jobs.restart_job(staged["job_id"], ws=ws)
        except NotFoundError:  # staged under another database: start a new record
            pass
    return jobs.create_job("predict", version.name, version.version, input, output, options,
                           input_digest=digest, ws=ws)




def _run(job: jobs.Job, staging: Staging, files: list[InputFile], spec: ModelSpec,
         options: ScoreOptions, executor: Any, progress: Progress | None, overwrite: bool,
         started: float, ws: Workspace) -> JobReport:
    chunks, done, totals = staging.committed()
    splits = plan_splits(files, options.batch_size)
    tasks = [Task(s, frozenset(chunks.get((s.file, s.index), ())))
             for s in splits if (s.file, s.index) not in done]
    expected = _expected_rows(files)
    seen = before = totals["rows"] + totals["failed"]
    if progress:
        progress(seen, expected)
    saved = time.monotonic()
    predlog = None
    if options.log_sample > 0:  # written by its own thread while the job goes on
        predlog = PredictionLog(logs_root(ws), 1.0, flush_s=LOG_FLUSH_S, upload=uploads(ws))
        predlog.start()
    signature = Signature.from_dict(spec.signature)
    # nothing left (a resume after the last part, or a kill during publish): no worker,
    # no model load — straight to publishing
    for event in executor.run(spec, options, tasks) if tasks else ():
        if isinstance(event, ChunkResult):
            staging.commit(event)
            if predlog is not None and event.logged is not None:
                predlog.record(spec.name, spec.version, signature, f"{job.id}/{event.part}",
                               *event.logged, spec.incarnation)
            totals["rows"] += event.rows
            totals["failed"] += event.failed
            totals["parts"] += 1
            seen += event.rows + event.failed
            if progress:
                progress(seen, expected)
            if time.monotonic() - saved > _SAVE_EVERY:
                jobs.update_progress(job.id, totals["rows"], totals["failed"], totals["parts"],
                                     ws=ws)
                saved = time.monotonic()
        else:
            staging.mark_done(event.file, event.split)
    if predlog is not None:
        predlog.close()  # sampled already, in the workers: every row sent back is written
    if totals["rows"] + totals["failed"] == 0:
        raise InvalidInputError(f"input {job.input!r} has no rows — every file is empty")
    quarantined = staging.path / QUARANTINE
    has_quarantine = quarantined.exists() and any(quarantined.iterdir())
    seconds = time.time() - started
    manifest = {"job": job.id, "model": job.ref, "input": job.input,
                "input_digest": job.input_digest, "rows": totals["rows"],
                "failed": totals["failed"], "parts": totals["parts"], "format": staging.format,
                "options": job.options, "finished": time.time()}
    staging.publish(manifest, overwrite=overwrite)
    final = jobs.finish_job(job.id, "succeeded", rows=totals["rows"],
                            rows_failed=totals["failed"], parts=totals["parts"], ws=ws)
    quarantine = str(staging.output / QUARANTINE) if has_quarantine else None
    return JobReport(final, totals["rows"], totals["failed"], totals["parts"], seconds,
                     str(staging.output), quarantine, False,
                     sum(1 for f in files if f.rows == 0), seen - before)


def _finish_published(staging: Staging, ws: Workspace) -> JobReport | None:
    """The report of a job whose output was published but whose row still says running
    (killed between the rename and the row's update): the row is closed with the
    manifest's counts, the leftovers of publishing removed. None for any other output."""
    manifest = staging.published()
    if manifest is None:
        return None
    final = jobs.close_published(str(manifest.get("job", "")), ws=ws)
    if final is None:  # a finished job's output (or one still publishing)
        return None
    staging.tidy_published()
    quarantine = staging.output / QUARANTINE
    return JobReport(final, final.rows, final.rows_failed, final.parts, 0.0,
                     str(staging.output), str(quarantine) if quarantine.exists() else None,
                     True, 0, 0)


def _expected_rows(files: list[InputFile]) -> int | None:
    """Rows the input holds: exact for Parquet, estimated for local CSV, else unknown."""
    total = 0
    for f in files:
        if f.rows is not None:
            total += f.rows
            continue
        estimate = _csv_rows_estimate(f)
        if estimate is None:
            return None
        total += estimate
    return total


def _csv_rows_estimate(f: InputFile) -> int | None:
    import os

    if "://" in f.url or f.url.lower().endswith(".gz") or not os.path.exists(f.url):
        return None
    with open(f.url, "rb") as fh:
        head = fh.read(1 << 20)
    lines = head.count(b"\n")
    if lines <= 1:
        return max(lines - 1, 1)
    if len(head) < (1 << 20):
        return lines - 1
    return max(1, int(f.size / (len(head) / lines)) - 1)
