"""The store conformance suite's one fixture: every implementation on every database.

Each test of ``tests/core/store`` runs once per (implementation, database)
pair, as Optuna's storage tests run against every storage. Today the SQL
implementation runs on SQLite and on a fresh PostgreSQL schema (dropped after
the test); a REST client of ``modelport server`` joins ``IMPLEMENTATIONS``
when it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from modelport.config import Settings
from modelport.core.store import Store, open_store
from modelport.core.store.engine import forget_stores

# how each implementation opens a store on a test database; a REST client of
# ``modelport server`` would start one on ``settings.db_url`` and connect to it
IMPLEMENTATIONS: dict[str, Callable[[Settings], Store]] = {
    "sql": lambda settings: open_store(settings.db_url),
}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Store]:
    yield IMPLEMENTATIONS[request.param](settings)
    forget_stores()
