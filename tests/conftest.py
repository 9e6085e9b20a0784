"""Shared fixtures: a fresh workspace per test on every metadata backend.

``ws`` is parametrized over SQLite and the real PostgreSQL on 127.0.0.1:5432;
each PostgreSQL test gets its own schema, dropped afterwards. Without the
server the PostgreSQL cases skip — unless MODELPORT_REQUIRE_SERVICES=1 (CI),
where they fail.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# the CLI's tables are as wide as the terminal, and a test has none (nor, under pytest-xdist,
# a parent that has one): one width for every run, wide enough that no cell is cut
os.environ["COLUMNS"] = "200"
# one OpenBLAS thread per process (the suite's own, and the CLIs and servers it starts): three
# workers and their subprocesses on two cores leave a second BLAS thread spinning for a core
# it cannot get — an MLP fit on digits took 5.6 CPU s with two threads, 0.9 s with one
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from services import require_service as _require_service

PG_DSN = os.environ.get("MODELPORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]




def _pg_admin():  # type: ignore[no-untyped-def]
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        _require_service("PostgreSQL", str(exc).strip().splitlines()[0])


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, as a SQLAlchemy URL whose search_path is that schema."""
    yield from _fresh_schema()


@pytest.fixture(scope="module")
def pg_schema_module() -> Iterator[str]:
    """``pg_schema`` shared by a module's tests (a server the whole module talks to)."""
    yield from _fresh_schema()


@pytest.fixture(scope="module")
def pg_schemas_module() -> Iterator[Callable[[], str]]:
    """``pg_schema`` on demand, each dropped with the module: for a module whose fixture
    starts a server per parameter, each on a store of its own."""
    with contextlib.ExitStack() as made:
        def fresh() -> str:
            schema = _fresh_schema()
            made.callback(schema.close)
            return next(schema)

        yield fresh


def _fresh_schema() -> Iterator[str]:
    schema = f"mp_test_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        base = PG_DSN.replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        forget_stores()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def settings_for(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    if backend == "sqlite":
        return Settings(home=tmp_path / "home")
    url = request.getfixturevalue("pg_schema")
    return Settings(home=tmp_path / "home", db_url=url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_configure(config: pytest.Config) -> None:
    # a developer's ``modelport login`` (or a server in their shell) must not turn the
    # suite's workspaces into clients of it: a test that logs in names its own config home
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="modelport-test-config-")
    for name in ("MODELPORT_URL", "MODELPORT_TOKEN"):
        os.environ.pop(name, None)
    config.addinivalue_line(
        "markers", "storage_independent: run on SQLite only — what the test checks does not "
                   "depend on the metadata store, so a PostgreSQL copy would only repeat it")


# the longest files, started first: with ``--dist loadfile`` the workers take files in
# collection order, so one of these left for the end would run alone while the other waits
LONGEST = ("test_readme_tour_remote.py", "test_readme_tour.py", "test_deploy_image.py",
           "test_dashboard_browser_live.py", "test_dashboard_ops_browser.py",
           "test_dashboard_browser_actions.py", "test_dashboard_browser.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST)))


@pytest.hookimpl(tryfirst=True)  # before the fixture's own parametrization over BACKENDS
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # generate the SQLite case only, rather than a PostgreSQL case that skips: a skip
    # in CI should mean a missing service, never a test that was not meant to run
    if metafunc.definition.get_closest_marker("storage_independent") \
            and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["sqlite"])


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for(backend, tmp_path, request)


@pytest.fixture
def ws(settings: Settings) -> Iterator[Workspace]:
    yield Workspace.open(settings)
    forget_stores()


@pytest.fixture
def env_ws(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The workspace the CLI and the default-workspace API will use, via MODELPORT_* vars."""
    monkeypatch.setenv("MODELPORT_HOME", str(settings.home))
    monkeypatch.setenv("MODELPORT_DB_URL", settings.db_url)
    monkeypatch.delenv("MODELPORT_ARTIFACTS_URL", raising=False)
    return Workspace.open(settings)


@pytest.fixture(scope="session")
def iris():  # type: ignore[no-untyped-def]
    from modelport.lifecycle.datasets import load_dataset

    return load_dataset("sklearn:iris")
