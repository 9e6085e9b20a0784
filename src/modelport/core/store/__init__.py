"""The metadata store: one database for runs, models, studies, endpoints and jobs."""

from modelport.core.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
