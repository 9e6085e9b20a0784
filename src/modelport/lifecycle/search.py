"""Finding runs: a small filter language, orderings, and keyset pagination.

``metrics.accuracy > 0.9 and params.max_depth = '5' and tags.team = 'ml'``

The filter language lives here; the store answers a parsed query
(``core/store/runs``) — on SQL with a join per named term and keyset pages, so
page 100 costs what page 1 does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from modelport.core.store.runs import (
    ATTRIBUTES,
    MAX_TERMS,
    Condition,
    RunPage,
    RunRecord,
    Term,
)
from modelport.core.store.text import storable
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError

_KIND_ALIASES = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
                 "attr": "attributes", "run": "attributes"}
# a filter is read left to right, one token at a time, so a quoted value is one token
# whatever it holds (`tags.note = 'rock and roll'`): identifier, operator, value, then
# AND or the end
_IDENT = re.compile(r"""\s*(?P<ident>(?:[A-Za-z_]+\.)?(?:`[^`]+`|"[^"]+"|[A-Za-z_][\w.\-/]*))""")
_OP = re.compile(r"\s*(?P<op>!=|>=|<=|=|>|<|I?LIKE\b)", re.IGNORECASE)
_VALUE = re.compile(r"""\s*(?P<value>'(?:[^']|'')*'|"[^"]*"|-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)""")
_AND = re.compile(r"\s+AND\b|\s*$", re.IGNORECASE)


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
    if not storable(text):
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
    if term.numeric:
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
        if not storable(item):
            raise InvalidInputError("an ordering cannot contain a NUL character")
        words = item.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].upper() not in
                                           ("ASC", "DESC")):
            raise InvalidInputError(f"cannot parse ordering {item.strip()!r} — expected e.g. "
                                    "'metrics.accuracy DESC'")
        parsed.append((_term(words[0]), len(words) == 2 and words[1].upper() == "DESC"))
    return parsed


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
    return ws.store.runs.search(conditions, ordering, experiment, max_results, page_token)


_MAX_MATCHES = 1000  # runs an ambiguous prefix is counted up to


def get_run(run_id: str, ws: Workspace | None = None) -> RunRecord:
    """A run by its id or by any unique prefix of it, such as the 12 characters
    ``runs list`` shows — what a user copies is what they may paste back."""
    runs = current(ws).store.runs
    records = runs.get_runs([run_id])
    if not records and run_id:
        matches = runs.ids_starting_with(run_id, _MAX_MATCHES)
        if len(matches) > 1:
            many = f"{len(matches)}{'+' if len(matches) == _MAX_MATCHES else ''}"
            raise InvalidInputError(f"run id {run_id!r} is the start of {many} runs' ids "
                                    "— give more of it")
        records = runs.get_runs(matches)
    if not records:
        raise NotFoundError(f"run {run_id!r} not found — list runs with: modelport runs list")
    return records[0]
