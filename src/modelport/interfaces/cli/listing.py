"""An empty listing names the workspace it looked in.

Run from another directory, a user otherwise sees an empty table and thinks
their runs and models are lost; the path tells them where to ``cd`` instead.
"""

from __future__ import annotations

from modelport.config import Settings
from modelport.interfaces.cli.render import console


def nothing(what: str, hint: str = "") -> None:
    """Print ``no WHAT in workspace PATH`` (plus the database when it is elsewhere)."""
    from modelport.core.store.text import redact

    settings = Settings.from_env()
    where = str(settings.home.resolve())
    if settings.db_url != f"sqlite:///{settings.home / 'modelport.db'}":
        where += f" (metadata in {redact(settings.db_url)})"
    console.print(f"no {what} in workspace {where}{hint}", soft_wrap=True)
