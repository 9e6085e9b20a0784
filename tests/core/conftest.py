"""The migration tests' plain engine on the test's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from modelport.config import Settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    settings.home.mkdir(parents=True, exist_ok=True)
    eng = create_engine(settings.db_url)
    yield eng
    eng.dispose()
