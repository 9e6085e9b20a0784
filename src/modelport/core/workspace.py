"""A workspace: one metadata store plus one artifact store, from one Settings.

Every lifecycle function takes an optional workspace; without one it uses the
process default, built from ``MODELPORT_*`` variables on first use.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from modelport.config import Settings
from modelport.core.artifacts import ArtifactStore
from modelport.core.store import Store, open_artifacts, open_store

log = logging.getLogger("modelport.workspace")


@dataclass
class Workspace:
    settings: Settings
    store: Store
    artifacts: ArtifactStore

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        settings = settings or Settings.from_env()
        fresh = not settings.home.exists()
        ws = cls(settings, open_store(settings.db_url, settings.token or None, settings.project),
                 open_artifacts(settings.artifacts_url, settings.token or None,
                                settings.project))
        if fresh and settings.home.exists():
            # a user who ran from the wrong directory must see at once that this is a new,
            # empty workspace; WARNING is the level Python prints without any logging set up
            log.warning("created workspace %s", settings.home.resolve())
        return ws


_lock = threading.Lock()
_default: Workspace | None = None


def current(ws: Workspace | None = None) -> Workspace:
    """``ws`` itself, or the process default workspace."""
    global _default
    if ws is not None:
        return ws
    with _lock:
        if _default is None or _default.settings != Settings.from_env():
            _default = Workspace.open()
        return _default
