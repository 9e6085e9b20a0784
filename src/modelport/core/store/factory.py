"""Choosing a store implementation from its URL, as Optuna's ``get_storage`` does."""

from __future__ import annotations

from modelport.core.store.base import Store
from modelport.core.store.engine import open_database
from modelport.core.store.sql import SqlStore
from modelport.core.store.text import redact
from modelport.errors import InvalidInputError


def open_store(url: str) -> Store:
    """The store at ``url``: migrated on first use, shared by the process.

    >>> open_store("sqlite:///.modelport/modelport.db").registry.list_models()  # doctest: +SKIP
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        raise InvalidInputError(
            f"remote store {redact(url)} needs `modelport server` (issue 16, not built yet) — "
            "use a sqlite:// or postgresql+psycopg:// URL for now")
    return SqlStore(open_database(url))
