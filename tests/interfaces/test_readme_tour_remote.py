"""The README's tour in remote mode: every section of ``test_readme_tour.py`` again, word
for word, with ``MODELPORT_URL`` and ``MODELPORT_TOKEN`` pointing at a live ``modelport
server`` on PostgreSQL (a schema of its own) with its artifact store behind it — so the
machine running the tour keeps no database and no artifact of its own."""

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
           ) -> Iterator[tuple[str, str, Path]]:
    """(URL, admin key, the server's home) of a server for the whole tour."""
    require_brokers()
    home = tmp_path_factory.mktemp("tour-server")
    port = free_port()
    proc, lines = start(home, port, env={"MODELPORT_DB_URL": pg_schema_module},
                        log=home / "server.log")
    key = next(line for line in lines if line.startswith("mp_"))
    try:
        yield f"http://127.0.0.1:{port}", key, home
    finally:
        stop(proc)
        TOUR.clean_brokers()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, server: tuple[str, str, Path]
              ) -> Path:
    url, key, _ = server
    TOUR.env.update(MODELPORT_URL=url, MODELPORT_TOKEN=key)
    return tmp_path_factory.mktemp("tour-remote")


@pytest.mark.timeout(SECTION_TIMEOUT_S + 60)
@pytest.mark.parametrize("section", SECTIONS, ids=[s.title for s in SECTIONS])
def test_tour_section(section: Section, workspace: Path) -> None:
    TOUR.check(section, workspace)


def test_the_tour_kept_everything_on_the_server(workspace: Path,
                                                server: tuple[str, str, Path]) -> None:
    """Nothing but what a client keeps (signing keys) was written to the tour's home; the
    server holds the runs, versions, jobs and artifacts."""
    if TOUR.failed:
        pytest.skip(f"a section failed: {TOUR.failed[0]}")
    url, key, home = server
    local = workspace / ".modelport"
    assert not (local / "modelport.db").exists()
    assert not list(local.rglob("sha256"))
    with httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as api:
        models = {m["name"] for m in api.get("/models").json()}
        assert {"iris", "wine", "churn", "cancer", "sales"} <= models, models
        assert api.get("/jobs").json()
    assert list((home / "artifacts" / "sha256").iterdir())
