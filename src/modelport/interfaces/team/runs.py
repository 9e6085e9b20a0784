"""``/api/v1/runs``: one route per method of ``RunsRepository``, plus the filter language.

The routes are thin: decode, call the store's repository, encode. A search
takes the filter language as text (parsed by the same code as ``modelport runs
list``) or, from a REST store client, the parsed query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar import Router, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from modelport.core.store.runs import (
    ATTRIBUTES,
    MAX_TERMS,
    Condition,
    DatasetRecord,
    MetricValue,
    RunPage,
    RunRecord,
    Term,
)
from modelport.core.store.text import storable
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.access import needs
from modelport.lifecycle.search import parse_filter, parse_order

MAX_PAGE = 10_000
KINDS = frozenset({"metrics", "params", "tags", "attributes"})
NUMBER_OPS = frozenset({"=", "!=", ">", ">=", "<", "<="})
TEXT_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})


@dataclass
class Metric:
    key: str
    value: float
    step: int = 0


@dataclass
class Batch:
    now: float
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class WholeRun:
    """A finished run in one request (``modelport.log_run``): the run with its params and
    tags (``run.metrics``: values at step 0), and metric values at any step."""

    run: RunRecord
    now: float
    metrics: list[Metric] = field(default_factory=list)


@dataclass
class Artifact:
    path: str
    digest: str
    size: int


@dataclass
class Dataset:
    digest: str
    name: str
    rows: int
    columns: list[str]
    now: float


@dataclass
class End:
    status: str
    end_time: float
    duration: float


@dataclass
class Ordering:
    term: Term
    descending: bool = False


@dataclass
class Search:
    """The filter language as text (``filter``, ``order_by``), or the parsed query a
    REST store client sends (``conditions``, ``ordering``: checked here like text)."""

    filter: str | None = None
    order_by: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    ordering: list[Ordering] | None = None
    experiment: str | None = None
    max_results: int | None = 100
    page_token: str | None = None


@dataclass
class Ids:
    ids: list[str]


def _missing(run_id: str) -> NotFoundError:
    return NotFoundError(f"run {run_id!r} not found — list runs with: modelport runs list")


@post("/", guards=[needs("write")], status_code=201, sync_to_thread=True)
def create_run(state: State, data: JSONBody[RunRecord]) -> dict[str, str]:
    state.store.runs.create_run(data)
    return {"id": data.id}


@post("/{run_id:str}/batch", guards=[needs("write")], status_code=204, sync_to_thread=True)
def log_batch(state: State, run_id: FromPath[str], data: JSONBody[Batch]) -> None:
    metrics = [MetricValue(m.key, m.step, m.value) for m in data.metrics]
    state.store.runs.log_batch(run_id, data.params, metrics, data.tags, data.now)


@put("/{run_id:str}", guards=[needs("write")], status_code=204, sync_to_thread=True)
def log_run(state: State, run_id: FromPath[str], data: JSONBody[WholeRun]) -> None:
    """Create (or finish) the run and log everything in it, in one transaction; sending the
    same run again changes nothing, so a client may retry."""
    if data.run.id != run_id:
        raise InvalidInputError(f"the body's run id {data.run.id!r} is not the path's "
                                f"{run_id!r}")
    metrics = [MetricValue(m.key, m.step, m.value) for m in data.metrics]
    state.store.runs.log_run(data.run, metrics, data.now)


@post("/{run_id:str}/artifacts", guards=[needs("write")], status_code=204, sync_to_thread=True)
def log_artifact(state: State, run_id: FromPath[str], data: JSONBody[Artifact]) -> None:
    state.store.runs.log_artifact(run_id, data.path, data.digest, data.size)


@post("/{run_id:str}/datasets", guards=[needs("write")], status_code=204, sync_to_thread=True)
def log_dataset(state: State, run_id: FromPath[str], data: JSONBody[Dataset]) -> None:
    record = DatasetRecord(data.digest, data.name, data.rows, data.columns)
    state.store.runs.log_dataset(run_id, record, data.now)


@post("/{run_id:str}/end", guards=[needs("write")], status_code=204, sync_to_thread=True)
def end_run(state: State, run_id: FromPath[str], data: JSONBody[End]) -> None:
    state.store.runs.end_run(run_id, data.status, data.end_time, data.duration)


@delete("/{run_id:str}", guards=[needs("write")], status_code=204, sync_to_thread=True)
def delete_run(state: State, run_id: FromPath[str]) -> None:
    state.store.runs.delete_run(run_id)


@get("/{run_id:str}", guards=[needs("read")], sync_to_thread=True)
def get_run(state: State, run_id: FromPath[str]) -> RunRecord:
    runs = state.store.runs.get_runs([run_id])
    if not runs:
        raise _missing(run_id)
    return runs[0]  # type: ignore[no-any-return]


@get("/{run_id:str}/metrics/{key:str}", guards=[needs("read")], sync_to_thread=True)
def metric_history(state: State, run_id: FromPath[str], key: FromPath[str]) -> list[list[float]]:
    """``[step, value]`` pairs (documented as number arrays: OpenAPI 3.1 has no tuples)."""
    return state.store.runs.metric_history(run_id, key)  # type: ignore[no-any-return]


@post("/get", guards=[needs("read")], status_code=200, sync_to_thread=True)
def get_runs(state: State, data: JSONBody[Ids]) -> list[RunRecord]:
    return state.store.runs.get_runs(data.ids)  # type: ignore[no-any-return]


@get("/ids", guards=[needs("read")], sync_to_thread=True)
def ids_starting_with(state: State, prefix: FromQuery[str],
                      limit: FromQuery[int] = 100) -> list[str]:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1 to {MAX_PAGE}")
    return state.store.runs.ids_starting_with(prefix, limit)  # type: ignore[no-any-return]


@post("/search", guards=[needs("read")], status_code=200, sync_to_thread=True)
def search(state: State, data: JSONBody[Search]) -> RunPage:
    if data.max_results is not None and not 1 <= data.max_results <= MAX_PAGE:
        raise InvalidInputError(f"max_results must be 1 to {MAX_PAGE}")
    conditions = parse_filter(data.filter) + [_checked(c) for c in data.conditions]
    if len(conditions) > MAX_TERMS:
        raise InvalidInputError(f"a filter may have at most {MAX_TERMS} clauses")
    ordering = parse_order(data.order_by) if data.ordering is None else \
        [(_term(o.term), o.descending) for o in data.ordering]
    return state.store.runs.search(  # type: ignore[no-any-return]
        conditions, ordering, data.experiment, data.max_results, data.page_token)


def _term(term: Term) -> Term:
    if term.kind not in KINDS or (term.kind == "attributes" and term.key not in ATTRIBUTES):
        raise InvalidInputError(f"unknown search term {term.kind}.{term.key}")
    return term


def _checked(condition: Condition) -> Condition:
    """A parsed condition from a client, held to what ``parse_filter`` would have made."""
    term, value = _term(condition.term), condition.value
    ops, kind = (NUMBER_OPS, float) if term.numeric else (TEXT_OPS, str)
    if condition.op not in ops or not isinstance(value, kind) or \
            (isinstance(value, str) and not storable(value)):
        raise InvalidInputError(f"{term.kind}.{term.key} cannot be compared with "
                                f"{condition.op} {value!r}")
    return condition


router = Router("/api/v1/runs", route_handlers=[
    create_run, log_batch, log_run, log_artifact, log_dataset, end_run, delete_run, get_run,
    metric_history, get_runs, ids_starting_with, search], tags=["runs"])
