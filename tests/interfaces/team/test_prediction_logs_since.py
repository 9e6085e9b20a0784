"""``GET /api/v1/prediction-logs/MODEL/VERSION[/labels]?since=…``: a team server lists only
the hours that can hold records at or after ``since`` — without opening the older ones —
so a monitor of the last hour transfers the listing of a few hours, not of a version's
whole history; a ``since`` that is no number, or no instant an hour can reach, is a 422.

One server (PostgreSQL, a schema of its own) for the module; it runs in this process, so
``opened`` sees the directories it lists.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from hourly_logs import hourly, opened
from modelport.config import Settings
from modelport.core.logfiles import LABELS, LOGS
from modelport.core.store.rest.logfiles import RestLogFiles
from modelport.errors import InvalidInputError
from modelport.lifecycle.registry import register_model
from team_server import close, remote_workspace, team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

X, Y = load_iris(return_X_y=True, as_frame=True)
API = "/api/v1/prediction-logs/iris/1"
NOW = float(calendar.timegm((2026, 12, 6, 10, 30, 0)))
HOURS = [NOW - 1800 - h * 3600 for h in range(24 * 7)]  # a week of hours, to this one
SINCE = NOW - 2 * 3600
RECENT = ["2026-12-06T08", "2026-12-06T09", "2026-12-06T10"]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str
         ) -> Iterator[tuple[str, str, Path]]:
    """(URL, admin key, the server's artifacts) with a week of hourly logs and labels of
    ``iris:1``, uploaded."""
    base = tmp_path_factory.mktemp("since")
    with team_server(Settings(home=base / "server", db_url=pg_schema_module)) as (url, admin):
        ws = remote_workspace(url, admin, base / "admin")
        register_model("iris", LogisticRegression(max_iter=500).fit(X, Y), X=X, ws=ws)
        close(ws)
        for kind in (LOGS, LABELS):
            files = RestLogFiles.at(url, admin, kind=kind)
            try:
                hourly(files, base / "staging" / kind, "iris", 1, HOURS)
            finally:
                files.close()
        yield url, admin, base / "server" / "artifacts"


@pytest.mark.parametrize("kind", [LOGS, LABELS])
def test_a_listing_since_sends_and_opens_only_the_recent_hours(
        team: tuple[str, str, Path], kind: str) -> None:
    url, admin, _ = team
    files = RestLogFiles.at(url, admin, kind=kind)
    try:
        assert len(files.list("iris", 1)) == len(HOURS)
        with opened() as listed:
            recent = files.list("iris", 1, since=SINCE)
    finally:
        files.close()
    assert [f.hour for f in recent] == RECENT
    hours = sorted(Path(d).name.removeprefix("hour=") for d in listed
                   if Path(d).name.startswith("hour="))
    assert hours == RECENT  # the server opened none of the week's older hours


@pytest.mark.parametrize("bad", ["soon", "", "nan", "NaN", "inf", "-Infinity", "1e999",
                                 "1e300", "-1e300", "253402300801", "0x10", "1;2"])
@pytest.mark.parametrize("kind", ["", "/labels"])
def test_a_since_that_is_no_instant_is_a_json_422(team: tuple[str, str, Path], bad: str,
                                                  kind: str) -> None:
    url, admin, _ = team
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}) as api:
        answer = api.get(f"{API}{kind}", params={"since": bad})
        assert (answer.status_code, answer.json()["code"]) == (422, "invalid_input"), \
            (bad, answer.text)
        assert "since" in answer.json()["error"]
        fine = api.get(f"{API}{kind}", params={"since": str(SINCE)})
        assert [f["hour"] for f in fine.json()] == RECENT


def test_the_client_refuses_what_the_server_would(team: tuple[str, str, Path]) -> None:
    url, admin, _ = team
    files = RestLogFiles.at(url, admin)
    try:
        with pytest.raises(InvalidInputError, match="invalid since"):
            files.list("iris", 1, since=float("nan"))
    finally:
        files.close()
