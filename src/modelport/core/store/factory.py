"""Choosing a store implementation — metadata or artifacts — from its URL, as Optuna's
``get_storage`` does. The one place that knows every implementation, so the stores
themselves never import each other."""

from __future__ import annotations

import os
from urllib.parse import urlparse

from modelport.core.artifacts import ArtifactStore, FsspecArtifactStore, LocalArtifactStore
from modelport.core.store.base import Store
from modelport.core.store.engine import open_database
from modelport.core.store.projects import DEFAULT_PROJECT
from modelport.core.store.scoped import ScopedStore
from modelport.core.store.sql import SqlStore


def open_store(url: str, token: str | None = None, project: str = DEFAULT_PROJECT) -> Store:
    """The store at ``url`` as ``project`` sees it: migrated on first use, shared by the
    process.

    >>> open_store("sqlite:///.modelport/modelport.db").registry.list_models()  # doctest: +SKIP

    ``http(s)://`` is a ``modelport server``; its key is ``token``, else ``MODELPORT_TOKEN``.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        from modelport.core.store.rest import RestStore  # httpx only for a remote store

        return RestStore(url, token, project)  # the server decides what the project sees
    return ScopedStore(SqlStore(open_database(url)), project)


def open_artifacts(url: str, token: str | None = None, project: str = DEFAULT_PROJECT
                   ) -> ArtifactStore:
    """The artifact store for ``url``: a path or ``file://`` is local, ``http(s)://`` a
    ``modelport server`` (``token`` its key; ``project`` whose blobs it reads), the rest
    fsspec."""
    scheme = urlparse(url).scheme
    if scheme in ("http", "https"):
        from modelport.core.store.rest.artifacts import RestArtifacts  # httpx only if remote

        return RestArtifacts(url, token, project)
    if scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
        return LocalArtifactStore(url.removeprefix("file://"))
    return FsspecArtifactStore(url)
