"""Choosing a store implementation from its URL, as Optuna's ``get_storage`` does."""

from __future__ import annotations

from modelport.core.store.base import Store
from modelport.core.store.engine import open_database
from modelport.core.store.sql import SqlStore


def open_store(url: str, token: str | None = None) -> Store:
    """The store at ``url``: migrated on first use, shared by the process.

    >>> open_store("sqlite:///.modelport/modelport.db").registry.list_models()  # doctest: +SKIP

    ``http(s)://`` is a ``modelport server``; its key is ``token``, else ``MODELPORT_TOKEN``.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        from modelport.core.store.rest import RestStore  # httpx only for a remote store

        return RestStore(url, token)
    return SqlStore(open_database(url))
