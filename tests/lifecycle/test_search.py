from __future__ import annotations

import base64
import contextlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.search import parse_filter, search_runs
from modelport.lifecycle.tracking import create_run


@pytest.fixture
def runs(ws: Workspace) -> list[dict]:
    rng = random.Random(7)
    made = []
    for i in range(60):
        run = create_run(name=f"r{i:02d}", experiment="a" if i % 2 else "b", ws=ws)
        data = {"acc": round(rng.random(), 6), "depth": str(i % 4), "team": f"t{i % 3}"}
        metrics = {"acc": data["acc"]} if i % 10 else {}  # every 10th run lacks the metric
        run.log_batch(params={"max_depth": data["depth"]}, metrics=metrics,
                      tags={"team": data["team"]})
        run.end()
        made.append({"name": run.name, **data, "has_acc": bool(metrics),
                     "experiment": run.experiment})
    return made


def _names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.name for r in page.runs]


def test_filter_and_order(ws: Workspace, runs: list[dict]) -> None:
    page = search_runs("metrics.acc > 0.5 and params.max_depth = '2'",
                       order_by="metrics.acc DESC", max_results=100, ws=ws)
    expected = sorted((r for r in runs if r["has_acc"] and r["acc"] > 0.5 and r["depth"] == "2"),
                      key=lambda r: -r["acc"])
    assert _names(page) == [r["name"] for r in expected]
    assert page.next_page_token is None
    assert all(r.params["max_depth"] == "2" for r in page.runs)


def test_tags_attributes_like(ws: Workspace, runs: list[dict]) -> None:
    names = set(_names(search_runs("tags.team = 't1' and experiment = 'a'", max_results=None,
                                   ws=ws)))
    assert names == {r["name"] for r in runs if r["team"] == "t1" and r["experiment"] == "a"}
    assert len(search_runs("name LIKE 'r0%'", max_results=None, ws=ws).runs) == 10
    assert len(search_runs("name ILIKE 'R0%'", max_results=None, ws=ws).runs) == 10
    assert search_runs("status != 'FINISHED'", ws=ws).runs == []


def test_runs_without_the_metric_sort_last_both_ways(ws: Workspace, runs: list[dict]) -> None:
    for direction in ("ASC", "DESC"):
        page = search_runs(order_by=f"metrics.acc {direction}", max_results=None, ws=ws)
        flags = [("acc" in r.metrics) for r in page.runs]
        assert flags == sorted(flags, reverse=True), direction
        values = [r.metrics["acc"] for r in page.runs if "acc" in r.metrics]
        assert values == sorted(values, reverse=direction == "DESC")


@pytest.mark.parametrize("order", ["metrics.acc DESC", "metrics.acc", "params.max_depth DESC",
                                   "name", None])
def test_keyset_pages_cover_every_run_once(ws: Workspace, runs: list[dict],
                                           order: str | None) -> None:
    seen, token = [], None
    while True:
        page = search_runs(order_by=order, max_results=7, page_token=token, ws=ws)
        seen += _names(page)
        token = page.next_page_token
        if token is None:
            break
    assert sorted(seen) == sorted(r["name"] for r in runs)
    assert seen == _names(search_runs(order_by=order, max_results=None, ws=ws))


@pytest.mark.parametrize("text, message", [
    ("metrics.acc >", "cannot parse"),
    ("metrics.acc > 'x'", "numeric"),
    ("params.depth > 3", "holds text"),
    ("foo = 1", "unknown run attribute"),
    ("metrics.acc > 0.5 or params.a = '1'", "cannot parse"),
])
def test_bad_filters_are_clear_errors(ws: Workspace, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        search_runs(text, ws=ws)


def test_bad_order_and_token(ws: Workspace) -> None:
    with pytest.raises(InvalidInputError, match="cannot parse ordering"):
        search_runs(order_by="metrics.acc sideways", ws=ws)
    with pytest.raises(InvalidInputError, match="page token"):
        search_runs(page_token="garbage", ws=ws)
    with pytest.raises(InvalidInputError, match="at least 1"):
        search_runs(max_results=0, ws=ws)


def test_parse_filter_quoting() -> None:
    (cond,) = parse_filter("tags.`my key` = 'it''s'")
    assert cond.term.key == "my key" and cond.value == "it's"


# ---------------------------------------------------------------- the grammar, hardened

def test_quoted_values_hold_and_and_quotes(ws: Workspace) -> None:
    for note in ("rock and roll", "AND", "x' and tags.y = 'z", 'say "and"'):
        run = create_run(name=note, ws=ws)
        run.log_batch(tags={"note": note})
        run.end()
    for note in ("rock and roll", "AND", "x' and tags.y = 'z"):
        quoted = note.replace("'", "''")
        page = search_runs(f"tags.note = '{quoted}' and status = 'FINISHED'", ws=ws)
        assert _names(page) == [note]
    assert _names(search_runs("tags.note = 'say \"and\"'", ws=ws)) == ['say "and"']
    assert _names(search_runs('tags.note = "rock and roll"', ws=ws)) == ["rock and roll"]
    assert _names(search_runs("tags.note LIKE '%and roll'", ws=ws)) == ["rock and roll"]


def test_a_filter_names_at_most_max_terms(ws: Workspace) -> None:
    from modelport.lifecycle.search import MAX_TERMS

    ok = " and ".join(f"params.p{i} = '1'" for i in range(MAX_TERMS))
    assert search_runs(ok, ws=ws).runs == []
    with pytest.raises(InvalidInputError, match=f"at most {MAX_TERMS} clauses"):
        search_runs(" and ".join(f"params.p{i} = '1'" for i in range(80)), ws=ws)
    with pytest.raises(InvalidInputError, match=f"at most {MAX_TERMS} metrics, params and tags"):
        search_runs(ok, order_by="metrics.other DESC", ws=ws)


def test_a_tampered_page_token_is_a_clean_error(ws: Workspace, runs: list[dict]) -> None:
    import json

    def token(values: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()

    page = search_runs(order_by="metrics.acc DESC", max_results=5, ws=ws)
    assert page.next_page_token is not None
    good = search_runs(order_by="metrics.acc DESC", max_results=5,
                       page_token=page.next_page_token, ws=ws)
    assert len(good.runs) == 5
    for values in (["text", "id"], [1.0, 2.0], [None, "id"], [True, "id"], [[1], "id"],
                   [{"a": 1}, "id"], [1.0, "a\x00b"], [10**400, "id"], ["NaN", "id"],
                   [float("nan"), "id"], [1.0]):
        with pytest.raises(InvalidInputError, match="invalid page token"):
            search_runs(order_by="metrics.acc DESC", max_results=5, page_token=token(values),
                        ws=ws)
    for raw in ("!!!", base64.urlsafe_b64encode(b"\xff\xfe").decode(), token("x") + "==",
                base64.urlsafe_b64encode(b"[" * 100_000).decode()):
        with pytest.raises(InvalidInputError, match="invalid page token"):
            search_runs(max_results=5, page_token=raw, ws=ws)


# ---------------------------------------------------------------- fuzzing, on every backend

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
_KEYS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@st.composite
def clauses(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["metrics", "params", "tags", "attributes"]))
    if kind == "attributes":
        ident = draw(st.sampled_from(["name", "status", "experiment", "duration", "nope"]))
    else:
        key = draw(_KEYS.filter(lambda k: "`" not in k))
        ident = f"{kind}.`{key}`"
    op = draw(st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "like"]))
    finite = st.floats(allow_nan=False, allow_infinity=False)  # the grammar has no inf
    value = draw(st.one_of(_TEXT.map(_quote), finite.map(repr), st.integers().map(str)))
    return f"{ident} {op} {value}"


@FUZZ
@given(text=st.text(max_size=80))
def test_fuzz_any_text_is_a_page_or_a_clean_error(ws: Workspace, text: str) -> None:
    with contextlib.suppress(InvalidInputError):
        search_runs(text, max_results=3, ws=ws)


@FUZZ
@given(parts=st.lists(clauses(), min_size=1, max_size=4),
       joiner=st.sampled_from([" and ", " AND ", "  And\t"]),
       order=st.sampled_from([None, "metrics.m DESC", "tags.t", "name"]))
def test_fuzz_grammar_filters(ws: Workspace, parts: list[str], joiner: str,
                              order: str | None) -> None:
    try:
        page = search_runs(joiner.join(parts), order_by=order, max_results=3, ws=ws)
    except InvalidInputError as exc:  # a numeric/text mismatch, an unknown attribute
        assert "cannot parse" not in str(exc), (parts, exc)
        return
    if page.next_page_token:
        search_runs(joiner.join(parts), order_by=order, max_results=3,
                    page_token=page.next_page_token, ws=ws)


@FUZZ
@given(value=_TEXT.filter(lambda v: "\x00" not in v))
def test_fuzz_a_tag_value_finds_its_run(ws: Workspace, value: str) -> None:
    run = create_run(name="fuzz", ws=ws)
    run.log_batch(tags={"note": value})
    run.end()
    page = search_runs(f"tags.note = {_quote(value)} and status = 'FINISHED'",
                       max_results=None, ws=ws)
    assert run.id in {r.id for r in page.runs}
    assert all(r.tags["note"] == value for r in page.runs)


@FUZZ
@given(token=st.one_of(st.text(max_size=40), st.binary(max_size=40).map(
    lambda b: base64.urlsafe_b64encode(b).decode())))
def test_fuzz_page_tokens(ws: Workspace, token: str) -> None:
    with contextlib.suppress(InvalidInputError):
        search_runs(order_by="metrics.acc DESC", max_results=3, page_token=token, ws=ws)
