"""The web dashboard: runs and models in a browser, from the team server or ``modelport ui``.

The same Litestar app serves it both ways: ``modelport server`` with login by
key (kept in the tab's sessionStorage and sent as ``X-API-Key``: no cookie, so
no CSRF), ``modelport ui`` on loopback with ``local.LocalGuard``.
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from modelport.interfaces.team.dashboard.api import metric_buckets, whoami
from modelport.interfaces.team.dashboard.pages import index, static

ROUTES: list[ControllerRouterHandler] = [index, static, whoami, metric_buckets]

__all__ = ["ROUTES"]
