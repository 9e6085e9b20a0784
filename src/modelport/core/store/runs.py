"""The runs' contract with the store: runs, their params, metrics, tags, artifacts, search.

A search arrives parsed (``lifecycle/search`` owns the filter language): a list
of ``Condition`` and an ordering of ``Term``. Each implementation answers it
its own way — SQL with a join per named term and keyset pages — and hands
back an opaque page token that only it reads.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from modelport.errors import ConflictError

# run attributes a filter or ordering may name (``run_id`` is ``id``), and which are numbers
ATTRIBUTES = frozenset({"id", "run_id", "name", "experiment", "status", "start_time",
                        "end_time", "duration", "dataset_digest", "git_commit", "project"})
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "duration"})
MAX_TERMS = 20  # each metric, param or tag is a join: past ~20 a planner takes seconds


@dataclass
class RunRecord:
    """A run as stored: what ``search_runs`` and ``get_run`` return."""

    id: str
    name: str
    experiment: str
    status: str
    start_time: float
    end_time: float | None
    duration: float | None
    dataset_digest: str | None
    git_commit: str | None
    packages: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # path -> digest
    project: str = "default"


@dataclass(frozen=True)
class Term:
    kind: str  # metrics | params | tags | attributes
    key: str

    @property
    def numeric(self) -> bool:
        return self.kind == "metrics" or self.key in NUMERIC_ATTRIBUTES


@dataclass(frozen=True)
class Condition:
    term: Term
    op: str  # = != > >= < <= LIKE ILIKE
    value: str | float


@dataclass
class RunPage:
    runs: list[RunRecord]
    next_page_token: str | None


class MetricValue(NamedTuple):
    key: str
    step: int
    value: float


class DatasetRecord(NamedTuple):
    digest: str
    name: str
    rows: int
    columns: list[str]


def taken_run(run_id: str) -> ConflictError:
    """The error for a run id in use (by another project's run, to a scoped store)."""
    return ConflictError(f"run {run_id!r} already exists — a new run needs a new id")


class RunsRepository(Protocol):
    """Runs. Thread-safe; every method is one transaction. A missing run raises
    ``NotFoundError`` where the method names one to read or delete."""

    def create_run(self, run: RunRecord) -> None: ...

    def log_batch(self, run_id: str, params: Mapping[str, str], metrics: Sequence[MetricValue],
                  tags: Mapping[str, str], now: float) -> None:
        """Params (write-once: another value is a ``ConflictError``), tags (last write
        wins), metric values (per step; the latest value is the highest step's)."""
        ...

    def log_run(self, run: RunRecord, metrics: Sequence[MetricValue], now: float) -> None:
        """A whole run in one transaction: ``run`` (created if new, else given ``run``'s
        status, end time and duration), its params and tags, ``run.metrics`` as values at
        step 0 and ``metrics`` (any steps). Idempotent: sending it again changes nothing,
        so a client may retry it. Artifacts are logged on their own (``InvalidInputError``
        if ``run.artifacts`` names any). A run of another project than ``run.project``
        with that id: ``ConflictError``, nothing written."""
        ...

    def log_artifact(self, run_id: str, path: str, digest: str, size: int) -> None: ...

    def log_dataset(self, run_id: str, dataset: DatasetRecord, now: float) -> None: ...

    def end_run(self, run_id: str, status: str, end_time: float, duration: float) -> None: ...

    def delete_run(self, run_id: str) -> None:
        """The run with everything logged to it (its artifacts' bytes stay)."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """Every (step, value) of one metric, in step order."""
        ...

    def get_runs(self, ids: Collection[str]) -> list[RunRecord]:
        """Full records of those of ``ids`` that exist, in the order given."""
        ...

    def ids_starting_with(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` run ids that start with ``prefix``, taken literally (``%`` and
        ``_`` are text, not wildcards)."""
        ...

    def search(self, conditions: Sequence[Condition], ordering: Sequence[tuple[Term, bool]],
               experiment: str | None, max_results: int | None, page_token: str | None
               ) -> RunPage:
        """Runs meeting every condition, ordered by (term, descending) pairs then id;
        ``max_results`` None returns every match. A token from another query or
        altered by hand is an ``InvalidInputError``."""
        ...
