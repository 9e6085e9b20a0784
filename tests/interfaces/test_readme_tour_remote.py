"""The README's tour in remote mode: every section of ``test_readme_tour.py`` again, word
for word, with ``MODELPORT_URL`` pointing at a live ``modelport server`` on PostgreSQL (a
schema of its own) with its artifact store behind it — so the machine running the tour
keeps no database and no artifact of its own.

Keys are on, as a team runs it: the server prints its bootstrap admin key once; the tour's
machine logs in (``modelport login``) with a narrower key made with it — ``deploy`` (which
includes ``write`` and ``read``) plus ``predict`` and ``feedback``, limited to project
``default``: what a developer who trains, serves and releases holds. Only the serving
replicas run with the admin key (``MODELPORT_TOKEN``, which wins over the login): a replica
checks its own callers against the server's keys, which only an admin may read. The
tour's ``curl``, Triton and edge-agent calls to those replicas carry the developer's key
(``Tour.key``: one substitution each, see ``tour.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from servers import free_port
from team_server import modelport, start, stop
from tour import SECTION_TIMEOUT_S, SECTIONS, Section, Tour, require_brokers

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself

TOUR = Tour()
Server = tuple[str, Path, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pg_schema_module: str
           ) -> Iterator[Server]:
    """(URL, the server's home, its admin key) of a server for the whole tour."""
    require_brokers()
    home = tmp_path_factory.mktemp("tour-server")
    port = free_port()
    proc, lines = start(home, port, env={"MODELPORT_DB_URL": pg_schema_module},
                        log=home / "server.log")
    try:
        yield f"http://127.0.0.1:{port}", home, admin_key(lines)
    finally:
        stop(proc)
        TOUR.clean_brokers()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Path:
    """The tour's directory, logged in to the server with the developer's key."""
    url, _, admin = server
    ws = tmp_path_factory.mktemp("tour-remote")
    key = developer_key(url, admin, ws / ".modelport")
    TOUR.key = key
    TOUR.env.update(XDG_CONFIG_HOME=str(ws / ".config"), MODELPORT_ADMIN_KEY=admin,
                    MODELPORT_TOUR_KEY=key)
    login = modelport("login", url, "--token", key, env=TOUR.environment(ws))
    assert login.returncode == 0, login.stdout + login.stderr
    return ws


def admin_key(lines: list[str]) -> str:
    """The bootstrap admin key the server printed on its first start."""
    keys = [line for line in lines if line.startswith("mp_")]
    assert len(keys) == 1, lines
    return keys[0]


def developer_key(url: str, admin: str, home: Path) -> str:
    """A key of role ``deploy`` with ``predict`` and ``feedback``, project ``default`` only
    (``read`` named too: a serving replica checks scopes by name, without the ladder)."""
    ws = Workspace.open(Settings(home=home, db_url=url, artifacts_url=url, token=admin))
    try:
        return create_key("tour developer", ["deploy", "read", "predict", "feedback"],
                          projects=["default"], ws=ws)[1]
    finally:
        ws.store.close()


@pytest.mark.timeout(SECTION_TIMEOUT_S + 60)
@pytest.mark.parametrize("section", SECTIONS, ids=[s.title for s in SECTIONS])
def test_tour_section(section: Section, workspace: Path) -> None:
    TOUR.check(section, workspace)


def test_the_tour_kept_everything_on_the_server(workspace: Path,
                                                server: Server) -> None:
    """Nothing but what a client keeps (signing keys) was written to the tour's home; the
    server holds the runs, versions, jobs and artifacts."""
    if TOUR.failed:
        pytest.skip(f"a section failed: {TOUR.failed[0]}")
    url, home, _ = server
    local = workspace / ".modelport"
    assert not (local / "modelport.db").exists()
    assert not list(local.rglob("sha256"))
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30,
                      headers={"Authorization": f"Bearer {TOUR.key}"}) as api:
        models = {m["name"] for m in api.get("/models").json()}
        assert {"iris", "wine", "churn", "cancer", "sales"} <= models, models
        assert api.get("/jobs").json()
    assert list((home / "artifacts" / "sha256").iterdir())
