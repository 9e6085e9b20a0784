"""A store brought to an older revision, with rows written as that revision's schema had
them: what a migration test upgrades."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from modelport.core.store.migration import MIGRATIONS


def store_at(engine: Engine, revision: str, statements: Iterable[str]) -> None:
    """Migrate the empty database at ``engine`` to ``revision``, then run ``statements``."""
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        for statement in statements:
            conn.execute(text(statement))
