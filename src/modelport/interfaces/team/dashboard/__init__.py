"""The web dashboard: runs and models in a browser, from the team server or ``modelport ui``.

The same Litestar app serves it both ways: ``modelport server`` with login by
key (kept in the tab's sessionStorage and sent as ``X-API-Key``: no cookie, so
no CSRF), ``modelport ui`` on loopback with ``local.LocalGuard``. Every page shows
one project's objects: the one picked among those ``GET /api/v1/projects`` lists for
the key, named in the URL (``?project=NAME``) and sent as ``X-Modelport-Project``
(``static/projects.js``).
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from modelport.interfaces.team.dashboard.api import metric_buckets, whoami
from modelport.interfaces.team.dashboard.pages import index, static

ROUTES: list[ControllerRouterHandler] = [index, static, whoami, metric_buckets]

__all__ = ["ROUTES"]
