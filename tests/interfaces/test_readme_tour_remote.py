"""The README's tour in remote mode: every section of ``test_readme_tour.py`` again, word
for word, with ``MODELPORT_URL`` pointing at a live ``modelport server`` on PostgreSQL (a
schema of its own) with its artifact store behind it — so the machine running the tour
keeps no database and no artifact of its own.

The server runs as a trial (``--auth off``, loopback only), as the local tour's workspace
has no key: with keys on, the server's admin key would turn on the serving replicas'
auth too (they check their callers against the server's keys) and the tour's ``curl``
and Triton calls carry none. Keys through every command are tested where they are the
point (``team/test_team_newcomer.py``, the store suite over REST, ``test_tune_remote``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from servers import free_port
from team_server import start, stop
from tour import SECTION_TIMEOUT_S, SECTIONS, Section, Tour, require_brokers

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

TOUR = Tour()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str
           ) -> Iterator[tuple[str, Path]]:
    """(URL, the server's home) of a server for the whole tour."""
    require_brokers()
    home = tmp_path_factory.mktemp("tour-server")
    port = free_port()
    proc, _ = start(home, port, env={"MODELPORT_DB_URL": pg_schema_module},
                    log=home / "server.log", args=("--auth", "off"))
    try:
        yield f"http://127.0.0.1:{port}", home
    finally:
        stop(proc)
        TOUR.clean_brokers()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, Path]) -> Path:
    TOUR.env.update(MODELPORT_URL=server[0])
    return tmp_path_factory.mktemp("tour-remote")


@pytest.mark.timeout(SECTION_TIMEOUT_S + 60)
@pytest.mark.parametrize("section", SECTIONS, ids=[s.title for s in SECTIONS])
def test_tour_section(section: Section, workspace: Path) -> None:
    TOUR.check(section, workspace)


def test_the_tour_kept_everything_on_the_server(workspace: Path,
                                                server: tuple[str, Path]) -> None:
    """Nothing but what a client keeps (signing keys) was written to the tour's home; the
    server holds the runs, versions, jobs and artifacts."""
    if TOUR.failed:
        pytest.skip(f"a section failed: {TOUR.failed[0]}")
    url, home = server
    local = workspace / ".modelport"
    assert not (local / "modelport.db").exists()
    assert not list(local.rglob("sha256"))
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as api:
        models = {m["name"] for m in api.get("/models").json()}
        assert {"iris", "wine", "churn", "cancer", "sales"} <= models, models
        assert api.get("/jobs").json()
    assert list((home / "artifacts" / "sha256").iterdir())
