"""The serving app as a server runs it: the data plane plus the control-plane work beside it.

``runtimes/serving`` answers requests and nothing else; what keeps a server in
step with the store lives here, composed in as a companion and a mount:

- ``ControlLoop`` follows endpoint policies (4×/s, so a rollback lands within
  ~0.3 s) and API keys, and once a second writes this worker's statistics and
  runs the rollout controller (control layer) — each step in its own ``try``:
  a database hiccup never stops serving, and a write the store refuses never
  holds a rollout where it is;
- ``edge_routes`` serves published edge bundles under ``/v2/edge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from modelport.control.controller import Controller
from modelport.interfaces import edge_routes
from modelport.runtimes.serving.app import AppConfig, ServingApp
from modelport.runtimes.serving.auth import Guard
from modelport.runtimes.serving.service import InferenceService

log = logging.getLogger("modelport.serve")

POLL_S = 0.25  # how often workers look for endpoint changes: a rollback lands within ~0.3 s


class ControlLoop:
    """A worker's background work while it serves; ``controller``: None runs no rollouts."""

    def __init__(self, controller: Controller | None = None) -> None:
        self.controller = controller
        self._app: ServingApp | None = None
        self._task: asyncio.Task[Any] | None = None

    async def start(self, app: ServingApp) -> None:
        self._app = app
        self._task = asyncio.get_running_loop().create_task(self._run(app))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._app is not None:
            try:
                self._app.service.stats.flush(self._app.repo.ws)
            except Exception:  # the last second's statistics are not worth a failed stop
                log.exception("writing the last statistics failed")

    async def _run(self, app: ServingApp) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(POLL_S)
            ticks += 1
            try:
                await app.refresh_keys()
            except Exception:
                log.exception("reading API keys failed; keeping the last ones")
            try:
                await asyncio.to_thread(app.repo.refresh_endpoints)
            except Exception:  # a database hiccup must not stop serving
                log.exception("background refresh failed; retrying")
            if ticks % round(1 / POLL_S) == 0:
                await self.publish(app)

    async def publish(self, app: ServingApp) -> None:
        """Write this worker's statistics, then run the controller."""
        stats = app.service.stats
        try:
            stats.loaded = app.repo.endpoint_versions()
            # counted here, on the loop's thread; written on another
            await asyncio.to_thread(stats.write, stats.snapshot(), app.repo.ws)
        except Exception:
            log.exception("writing statistics failed; kept for the next write")
        if self.controller is not None:
            try:
                await asyncio.to_thread(self.controller.tick)
            except Exception:
                log.exception("rollout controller tick failed; retrying")


def serving_app(service: InferenceService, guard: Guard | None = None,
                config: AppConfig | None = None, controller: Controller | None = None
                ) -> ServingApp:
    """The app a server runs: ``service`` over HTTP, with the control loop and the edge
    download routes composed in."""
    return ServingApp(service, guard, config, mounts={"edge": edge_routes.route},
                      companions=[ControlLoop(controller)])
