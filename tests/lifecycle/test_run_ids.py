"""A run is found by its id or by any unique start of it, as `runs list` shows it."""

from __future__ import annotations

from collections import Counter

import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.search import get_run
from modelport.lifecycle.tracking import create_run


def test_a_unique_prefix_finds_the_run(ws: Workspace) -> None:
    run = create_run(name="one", ws=ws)
    for prefix in (run.id, run.id[:12], run.id[:1]):
        assert get_run(prefix, ws=ws).id == run.id


def test_an_ambiguous_prefix_says_how_many_runs_share_it(ws: Workspace) -> None:
    ids = [create_run(ws=ws).id for _ in range(17)]  # 17 ids over 16 hex digits: two share one
    first, count = Counter(i[0] for i in ids).most_common(1)[0]
    with pytest.raises(InvalidInputError,
                       match=rf"run id '{first}' is the start of {count} runs' ids"):
        get_run(first, ws=ws)


@pytest.mark.parametrize("prefix", ["", "_", "%", "zz", "'; DROP TABLE runs; --"])
def test_no_match_is_not_found_and_wildcards_are_plain_text(ws: Workspace, prefix: str) -> None:
    create_run(ws=ws)
    create_run(ws=ws)
    with pytest.raises(NotFoundError, match="not found"):
        get_run(prefix, ws=ws)
