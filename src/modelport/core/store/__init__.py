"""The metadata store: runs, models, endpoints, jobs, streams, devices and keys.

``open_store(url)`` picks the implementation by URL scheme: ``sqlite:`` and
``postgresql…`` get the SQL one; ``http(s)://`` gets a client of
``modelport server``.
"""

from __future__ import annotations

from modelport.core.store.base import Store
from modelport.core.store.engine import short_lived_engine_options
from modelport.core.store.factory import open_artifacts, open_store

__all__ = ["Store", "open_artifacts", "open_store", "short_lived_engine_options"]
