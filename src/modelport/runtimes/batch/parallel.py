"""Executors for a job's splits: ``local`` processes on this machine, or ``ray`` past it.

Both take the same input — the model's verified bytes, the scoring options and
the splits still to do — and give back the same stream of events: one
``ChunkResult`` per chunk and a ``SplitDone`` per finished split. Workers read
their own splits straight from the input's URL and only small results travel
back, so the job loop (one process) writes and commits every part itself.

>>> backend = get_backend("local", workers=4)                      # doctest: +SKIP
>>> for event in backend.run(spec, options, tasks): ...            # doctest: +SKIP
"""

from __future__ import annotations

import io
import json
import queue
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import modelport.errors as errors
from modelport.errors import InvalidInputError, ModelportError, require
from modelport.runtimes.batch.graph_scoring import scorer_for
from modelport.runtimes.batch.reader import Split
from modelport.runtimes.batch.scoring import (
    ChunkResult,
    ModelSpec,
    ScoreOptions,
    Scorer,
    SplitDone,
)
from modelport_edge.sessions import usable_cpus

Event = ChunkResult | SplitDone


@dataclass(frozen=True)
class Task:
    """A split to read, with the chunks a previous attempt already committed."""

    split: Split
    skip: frozenset[int] = frozenset()


class Backend(Protocol):
    """Runs tasks and yields their events as they come, in any order across splits but
    in chunk order within a split. Closing the iterator early stops every worker."""

    name: str

    def run(self, spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task]
            ) -> Iterator[Event]: ...


def score_tasks(spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task],
                scorer: Scorer | None = None) -> Iterator[Event]:
    """The work of one worker, in-process: every task in turn."""
    scorer = scorer or scorer_for(spec, options)
    for task in tasks:
        yield from scorer.run(task.split, task.skip)
        yield SplitDone(task.split.file, task.split.index)


# ---------------------------------------------------------------- errors across processes

@dataclass
class WorkerError:
    kind: str
    message: str

    @classmethod
    def of(cls, exc: BaseException) -> WorkerError:
        if isinstance(exc, ModelportError):
            return cls(type(exc).__name__, exc.message)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return cls("", f"a worker failed: {type(exc).__name__}: {text}")

    def error(self) -> ModelportError:
        cls = getattr(errors, self.kind, None)
        if isinstance(cls, type) and issubclass(cls, ModelportError) and \
                cls is not errors.MissingDependencyError:
            return cls(self.message)
        return ModelportError(self.message)


# ---------------------------------------------------------------- local processes

class LocalBackend:
    """Worker processes on this machine; one worker runs in-process, with no pool at all.

    Workers are forked where the platform allows (no re-import, no model reload
    cost beyond the load itself), die with the job process (``PR_SET_PDEATHSIG``
    on Linux, so a ``kill -9`` of the job leaves no orphan writing), and use one
    BLAS thread each so N workers use N cores, not N².
    """

    name = "local"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        if address:
            raise InvalidInputError("--ray-address applies to --backend ray only")
        self.workers = workers or usable_cpus()

    def run(self, spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task]
            ) -> Iterator[Event]:
        n = min(self.workers, len(tasks))
        if n <= 1:
            yield from score_tasks(spec, options, tasks)
            return
        yield from self._pool(n, spec, options, tasks)

    def _pool(self, n: int, spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task]
              ) -> Iterator[Event]:
        import multiprocessing as mp

        ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        todo: Any = ctx.Queue()
        results: Any = ctx.Queue(maxsize=4 * n)  # back-pressure: bounded memory in the parent
        for task in tasks:
            todo.put(task)
        for _ in range(n):
            todo.put(None)
        procs = [ctx.Process(target=_worker, args=(spec, options, todo, results), daemon=True,
                             name=f"modelport-batch-{i}") for i in range(n)]
        for p in procs:
            p.start()
        try:
            running = n
            while running:
                try:
                    event = results.get(timeout=1.0)
                except queue.Empty:
                    dead = [p for p in procs if p.exitcode not in (None, 0)]
                    if dead:
                        raise ModelportError(
                            f"batch worker {dead[0].name} died (exit code {dead[0].exitcode}) "
                            "— re-run the same command to resume from the last committed part"
                        ) from None
                    continue
                if event is None:
                    running -= 1
                elif isinstance(event, WorkerError):
                    raise event.error()
                else:
                    yield event
        finally:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=10)
            for q in (todo, results):
                q.cancel_join_thread()
                q.close()


def _worker(spec: ModelSpec, options: ScoreOptions, todo: Any, results: Any) -> None:
    _die_with_parent()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        pass
    try:
        scorer = scorer_for(spec, options)
        while (task := todo.get()) is not None:
            for event in score_tasks(spec, options, [task], scorer):
                results.put(event)
    except BaseException as exc:
        results.put(WorkerError.of(exc))
    results.put(None)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies, whatever killed the parent."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers are daemons, the pool ends them
        pass


# ---------------------------------------------------------------- Ray Data

class RayBackend:
    """The same job on a Ray cluster through Ray Data: splits become a dataset, an actor
    pool of scorers (one model load per actor) maps it, and the events stream back to
    the job process under Ray Data's back-pressure.

    ``address`` is a Ray address (``auto``, ``HOST:6379``, ``ray://HOST:10001``);
    without one, an already initialised Ray is used, else a local instance starts
    (listening on 127.0.0.1 only). Workers must reach the input URL and have
    modelport installed (a ``runtime_env`` for a remote cluster).
    """

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None) -> None:
        self.workers = workers
        self.address = address

    def run(self, spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task]
            ) -> Iterator[Event]:
        ray = require("ray", "ray")
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            else:
                kwargs["_node_ip_address"] = "127.0.0.1"
            ray.init(**kwargs)
            started = True
        try:
            yield from self._run(ray, spec, options, tasks)
        finally:
            if started:
                ray.shutdown()

    def _run(self, ray: Any, spec: ModelSpec, options: ScoreOptions, tasks: Sequence[Task]
             ) -> Iterator[Event]:
        import ray.data

        if not tasks:
            return
        ray.data.DataContext.get_current().enable_progress_bars = False
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n = max(1, min(self.workers or cpus, len(tasks)))
        items = [{"task": json.dumps(_task_dict(t))} for t in tasks]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        ds = ds.map_batches(_RayScorer, fn_constructor_args=(spec, options), batch_size=1,
                            compute=ray.data.ActorPoolStrategy(size=n), num_cpus=1,
                            batch_format="numpy")
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for payload in batch["event"]:
                event = decode_event(bytes(payload))
                if isinstance(event, WorkerError):
                    raise event.error()
                yield event


class _RayScorer:
    """A Ray Data actor: loads the model once, then scores one split per call."""

    def __init__(self, spec: ModelSpec, options: ScoreOptions) -> None:
        self.spec, self.options = spec, options
        self.scorer: Scorer | None = None

    def __call__(self, batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
        import numpy as np

        for text in batch["task"]:
            try:
                self.scorer = self.scorer or scorer_for(self.spec, self.options)
                task = _task_from(json.loads(str(text)))
                for event in score_tasks(self.spec, self.options, [task], self.scorer):
                    yield {"event": np.array([encode_event(event)], dtype=object)}
            except Exception as exc:
                yield {"event": np.array([encode_event(WorkerError.of(exc))], dtype=object)}


def _task_dict(task: Task) -> dict[str, Any]:
    return {"split": asdict(task.split), "skip": sorted(task.skip)}


def _task_from(data: dict[str, Any]) -> Task:
    split = dict(data["split"])
    split["row_groups"] = tuple(split["row_groups"])
    return Task(Split(**split), frozenset(data["skip"]))


# ---------------------------------------------------------------- events as bytes

def encode_event(event: Event | WorkerError) -> bytes:
    """An event as a JSON header line plus Arrow IPC streams — no pickle on the wire."""
    tables: list[Any] = []
    if isinstance(event, ChunkResult):
        head: dict[str, Any] = {"kind": "chunk", "file": event.file, "split": event.split,
                                "chunk": event.chunk, "rows": event.rows,
                                "failed": event.failed}
        tables = [event.output] + ([event.quarantine] if event.quarantine is not None else [])
    elif isinstance(event, SplitDone):
        head = {"kind": "done", "file": event.file, "split": event.split}
    else:
        head = {"kind": "error", "error": event.kind, "message": event.message}
    blobs = [_ipc(t) for t in tables]
    head["sizes"] = [len(b) for b in blobs]
    return json.dumps(head).encode() + b"\n" + b"".join(blobs)


def decode_event(data: bytes) -> Event | WorkerError:
    line, _, rest = data.partition(b"\n")
    head = json.loads(line)
    if head["kind"] == "done":
        return SplitDone(head["file"], head["split"])
    if head["kind"] == "error":
        return WorkerError(head["error"], head["message"])
    tables, offset = [], 0
    for size in head["sizes"]:
        tables.append(_table(rest[offset:offset + size]))
        offset += size
    return ChunkResult(head["file"], head["split"], head["chunk"], head["rows"], head["failed"],
                       tables[0], tables[1] if len(tables) > 1 else None)


def _ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _table(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all()


# ---------------------------------------------------------------- choosing one

BACKENDS: dict[str, Callable[..., Backend]] = {"local": LocalBackend, "ray": RayBackend}


def get_backend(name: str, workers: int | None = None, address: str | None = None) -> Backend:
    """The executor called ``name`` (``local`` or ``ray``)."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise InvalidInputError(f"unknown backend {name!r} — use one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {workers}")
    return factory(workers=workers, address=address)
