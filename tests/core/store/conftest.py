"""The store conformance suite's one fixture: every implementation on every database.

Each test of ``tests/core/store`` runs once per (implementation, database)
pair, as Optuna's storage tests run against every storage: the SQL
implementation, and the REST client of a real ``modelport server`` (uvicorn in
a thread) over the same database — each on SQLite and on a fresh PostgreSQL
schema (dropped after the test). Every repository is served, so every test
that takes ``store`` runs through both.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelport.config import Settings
from modelport.core.store import Store, open_store
from modelport.core.store.engine import forget_stores
from modelport.core.store.rest import RestStore
from team_server import team_server


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        metafunc.parametrize("store", ["sql", "rest"], indirect=True)


@pytest.fixture
def store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    if request.param == "rest":
        with team_server(settings) as (url, token):
            rest = RestStore(url, token)
            yield rest
            rest.close()
    else:
        yield open_store(settings.db_url)
    forget_stores()
