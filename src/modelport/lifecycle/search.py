"""Finding runs: a small filter language, orderings, and keyset pagination.

``metrics.accuracy > 0.9 and params.max_depth = '5' and tags.team = 'ml'``

Each metric, param or tag named in a filter or an ordering becomes one join
on its narrow table — an index range scan on ``(key, value)`` for metrics —
so a filtered, ordered top-100 over tens of thousands of runs reads only the
rows it returns. Pages continue from the last row's sort key (keyset), not
from an offset, so page 100 costs what page 1 does.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, literal, or_, select
from sqlalchemy.sql import ColumnElement

from modelport.core.store import schema as t
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.tracking import RunRecord

ATTRIBUTES = {
    "id": t.runs.c.id, "run_id": t.runs.c.id, "name": t.runs.c.name,
    "experiment": t.runs.c.experiment, "status": t.runs.c.status,
    "start_time": t.runs.c.start_time, "end_time": t.runs.c.end_time,
    "duration": t.runs.c.duration, "dataset_digest": t.runs.c.dataset_digest,
    "git_commit": t.runs.c.git_commit,
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time", "duration"}
_KIND_TABLES = {"metrics": t.run_latest_metrics, "params": t.run_params, "tags": t.run_tags}
_KIND_ALIASES = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
                 "attr": "attributes", "run": "attributes"}
_OPS = {
    "=": lambda c, v: c == v, "!=": lambda c, v: c != v, ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v, "<": lambda c, v: c < v, "<=": lambda c, v: c <= v,
    "LIKE": lambda c, v: c.like(v), "ILIKE": lambda c, v: func.lower(c).like(func.lower(v)),
}
# a filter is read left to right, one token at a time, so a quoted value is one token
# whatever it holds (`tags.note = 'rock and roll'`): identifier, operator, value, then
# AND or the end
_IDENT = re.compile(r"""\s*(?P<ident>(?:[A-Za-z_]+\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.\-/]*))""")
_OP = re.compile(r"\s*(?P<op>!=|>=|<=|=|>|<|I?LIKE\b)", re.IGNORECASE)
_VALUE = re.compile(r"""\s*(?P<value>'(?:[^']|'')*'|"[^"]*"|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)""")
_AND = re.compile(r"\s+AND\b|\s*$", re.IGNORECASE)
MAX_TERMS = 20  # each metric, param or tag is a join: past ~20 a planner takes seconds
# nulls sort last whatever the direction: they compare as beyond every real value
_NULL_HIGH, _NULL_LOW = 1e308, -1e308


@dataclass(frozen=True)
class Term:
    kind: str  # metrics | params | tags | attributes
    key: str


@dataclass(frozen=True)
class Condition:
    term: Term
    op: str
    value: str | float


@dataclass
class RunPage:
    runs: list[RunRecord]
    next_page_token: str | None


def _term(ident: str) -> Term:
    kind, dot, key = ident.partition(".")
    if dot and kind.lower() in {"metrics", "params", "tags", "attributes", *_KIND_ALIASES}:
        kind = _KIND_ALIASES.get(kind.lower(), kind.lower())
    else:
        kind, key = "attributes", ident
    key = key.strip("`\"")
    if kind == "attributes" and key not in ATTRIBUTES:
        raise InvalidInputError(
            f"unknown run attribute {key!r} — use metrics.NAME, params.NAME, tags.NAME or one "
            f"of {', '.join(sorted(ATTRIBUTES))}")
    return Term(kind, key)


def parse_filter(text: str | None) -> list[Condition]:
    """Parse ``clause and clause …``; each clause is ``TERM OP VALUE``."""
    if not text or not text.strip():
        return []
    if not _storable(text):
        raise InvalidInputError("a filter cannot contain a NUL character or a lone surrogate")
    conditions, pos = [], 0
    while pos < len(text):
        clause = _clause(text, pos)
        if clause is None:
            rest = text[pos:].strip()
            raise InvalidInputError(
                f"cannot parse filter at {rest[:60]!r} — expected e.g. "
                "metrics.accuracy > 0.9 and params.max_depth = '5'")
        condition, pos = clause
        conditions.append(condition)
        if len(conditions) > MAX_TERMS:
            raise InvalidInputError(f"a filter may have at most {MAX_TERMS} clauses")
    return conditions


def _clause(text: str, pos: int) -> tuple[Condition, int] | None:
    """The clause at ``pos`` and where the next one starts (past its AND), or None."""
    ident = _IDENT.match(text, pos)
    op = ident and _OP.match(text, ident.end())
    value = op and _VALUE.match(text, op.end())
    end = value and _AND.match(text, value.end())
    if not (ident and op and value and end):
        return None
    if end.group() and end.end() == len(text):  # a trailing AND: a clause is missing
        return None
    term, operator, raw = _term(ident["ident"]), op["op"].upper(), value["value"]
    quoted = raw[0] in "'\""
    parsed: str | float = raw[1:-1].replace("''", "'") if quoted else raw
    if _is_numeric(term):
        if quoted or operator in ("LIKE", "ILIKE"):
            raise InvalidInputError(f"{term.kind}.{term.key} is numeric: compare it with a "
                                    f"number, not {raw}")
        parsed = float(parsed)
    elif operator in (">", ">=", "<", "<="):
        raise InvalidInputError(
            f"{term.kind}.{term.key} holds text: use =, !=, LIKE or ILIKE on it")
    return Condition(term, operator, parsed), end.end()


def parse_order(order_by: str | Iterable[str] | None) -> list[tuple[Term, bool]]:
    """``["metrics.accuracy DESC", "start_time"]`` → (term, descending) pairs."""
    if not order_by:
        return [(Term("attributes", "start_time"), True)]
    items = [order_by] if isinstance(order_by, str) else list(order_by)
    parsed = []
    for item in (part for entry in items for part in entry.split(",")):
        if not _storable(item):
            raise InvalidInputError("an ordering cannot contain a NUL character")
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in
                                           ("ASC", "DESC")):
            raise InvalidInputError(f"cannot parse ordering {item.strip()!r} — expected e.g. "
                                    "'metrics.accuracy DESC'")
        parsed.append((_term(words[0]), len(words) == 2 and words[1].upper() == "DESC"))
    return parsed


class _Query:
    """Builds one SELECT over runs with a join per named metric / param / tag."""

    def __init__(self) -> None:
        self.stmt: Select[Any] = select(t.runs.c.id)
        self.joined: dict[Term, Any] = {}
        self.where: list[ColumnElement[bool]] = []

    def column(self, term: Term, inner: bool) -> Any:
        if term.kind == "attributes":
            return ATTRIBUTES[term.key]
        alias = self.joined.get(term)
        if alias is None:
            table = _KIND_TABLES[term.kind]
            alias = table.alias(f"{term.kind}_{len(self.joined)}")
            on = and_(alias.c.run_id == t.runs.c.id, alias.c.key == term.key)
            self.stmt = self.stmt.join_from(t.runs, alias, on, isouter=not inner)
            self.joined[term] = alias
        return alias.c.value


def _nullable(term: Term, filtered: set[Term]) -> bool:
    """Whether a sort key can be missing: a filtered term never is, nor a NOT NULL column."""
    if term in filtered:
        return False
    return term.kind != "attributes" or bool(ATTRIBUTES[term.key].nullable)


def _sort_key(column: Any, term: Term, descending: bool, nullable: bool) -> Any:
    if not nullable:
        # a plain column lets the database walk the (key, value) index in order and stop
        # after the page, instead of sorting every match
        return column
    if _is_numeric(term):
        return func.coalesce(column, _NULL_LOW if descending else _NULL_HIGH)
    return func.coalesce(column, literal("") if descending else literal("\U0010ffff"))


def search_runs(filter: str | None = None, order_by: str | Iterable[str] | None = None,
                experiment: str | None = None, max_results: int | None = 100,
                page_token: str | None = None, ws: Workspace | None = None) -> RunPage:
    """Runs matching ``filter``, in ``order_by`` order, ``max_results`` at a time.

    ``max_results=None`` returns every match in one page.
    """
    ws = current(ws)
    conditions, ordering = parse_filter(filter), parse_order(order_by)
    if max_results is not None and max_results < 1:
        raise InvalidInputError("max_results must be at least 1")
    q = _Query()
    for cond in conditions:
        q.where.append(_OPS[cond.op](q.column(cond.term, inner=True), cond.value))
    if experiment:
        q.where.append(t.runs.c.experiment == experiment)
    filtered = {cond.term for cond in conditions}
    sort_keys = [(_sort_key(q.column(term, inner=False), term, desc,
                            nullable=_nullable(term, filtered)), desc)
                 for term, desc in ordering]
    sort_keys.append((t.runs.c.id, sort_keys[0][1]))
    if len(q.joined) > MAX_TERMS:
        raise InvalidInputError(f"a search may name at most {MAX_TERMS} metrics, params and "
                                "tags (filter and ordering together)")
    if page_token:
        kinds = [_is_numeric(term) for term, _ in ordering] + [False]  # the run id: text
        q.where.append(_after(sort_keys, _decode(page_token, kinds)))
    stmt = q.stmt.add_columns(*(k for k, _ in sort_keys)).where(*q.where).order_by(
        *(k.desc() if desc else k.asc() for k, desc in sort_keys))
    if max_results is not None:
        stmt = stmt.limit(max_results + 1)
    with ws.store.read() as conn:
        rows = conn.execute(stmt).all()
        more = max_results is not None and len(rows) > max_results
        rows = rows[:max_results] if max_results is not None else rows
        records = _records(conn, [r[0] for r in rows])
    token = _encode(list(rows[-1][1:])) if more else None
    return RunPage(records, token)


def _after(sort_keys: list[tuple[Any, bool]], last: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``last`` in the ordering: a lexicographic comparison."""
    clauses = []
    for i, (key, desc) in enumerate(sort_keys):
        equal = [k == v for (k, _), v in zip(sort_keys[:i], last[:i], strict=True)]
        clauses.append(and_(*equal, key < last[i] if desc else key > last[i]))
    return or_(*clauses)


def _encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def _decode(token: str, numeric: list[bool]) -> list[Any]:
    """The sort key a page token carries, each value of its column's type — a token
    altered by hand is a clear error here, never a database's type error."""
    try:
        values = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(values, list) or len(values) != len(numeric):
            raise ValueError
        for value, number in zip(values, numeric, strict=True):
            ok = (isinstance(value, int | float) and not isinstance(value, bool)
                  and math.isfinite(value) and abs(value) <= _NULL_HIGH) if number \
                else (isinstance(value, str) and len(value) <= 10_000 and _storable(value))
            if not ok:
                raise ValueError
        return [float(v) if number else v for v, number in zip(values, numeric, strict=True)]
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        raise InvalidInputError("invalid page token — it belongs to another query or was "
                                "altered") from None


def _storable(text: str) -> bool:
    """Whether every database can compare ``text``: PostgreSQL refuses NUL, and a lone
    surrogate cannot be encoded at all."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _is_numeric(term: Term) -> bool:
    return term.kind == "metrics" or term.key in _NUMERIC_ATTRIBUTES


def get_run(run_id: str, ws: Workspace | None = None) -> RunRecord:
    """A run by its id or by any unique prefix of it, such as the 12 characters
    ``runs list`` shows — what a user copies is what they may paste back."""
    ws = current(ws)
    with ws.store.read() as conn:
        records = _records(conn, [run_id])
        if not records and run_id:
            prefixed = t.runs.c.id.startswith(run_id, autoescape=True)
            matches = conn.execute(select(func.count()).where(prefixed)).scalar_one()
            if matches > 1:
                raise InvalidInputError(f"run id {run_id!r} is the start of {matches} runs' ids "
                                        "— give more of it")
            records = _records(conn, list(conn.execute(select(t.runs.c.id).where(prefixed))
                                          .scalars()))
    if not records:
        raise NotFoundError(f"run {run_id!r} not found — list runs with: modelport runs list")
    return records[0]


_CHUNK = 500


def _records(conn: Any, ids: list[str]) -> list[RunRecord]:
    """Full records for ``ids``, in that order: one query per table per chunk."""
    by_id: dict[str, RunRecord] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        for row in conn.execute(select(t.runs).where(t.runs.c.id.in_(chunk))).mappings():
            by_id[row["id"]] = RunRecord(**{**row, "packages": row["packages"] or {}})
        for table, attr, value in ((t.run_params, "params", "value"),
                                   (t.run_latest_metrics, "metrics", "value"),
                                   (t.run_tags, "tags", "value"),
                                   (t.run_artifacts, "artifacts", "digest")):
            rows = conn.execute(select(table.c.run_id, table.c.key if attr != "artifacts"
                                       else table.c.path, table.c[value])
                                .where(table.c.run_id.in_(chunk)))
            for run_id, key, val in rows:
                getattr(by_id[run_id], attr)[key] = val
    return [by_id[i] for i in ids if i in by_id]
