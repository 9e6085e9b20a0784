"""The serving app as a server runs it: the data plane plus the control-plane work beside it.

``runtimes/serving`` answers requests and nothing else; what keeps a server in
step with the store lives here, composed in as a companion and a mount:

- ``ControlLoop`` follows endpoint policies and API keys, and once a second
  writes this worker's statistics and runs the rollout controller (control
  layer) — each step in its own ``try``: a database hiccup never stops serving,
  and a write the store refuses never holds a rollout where it is. Endpoints
  are followed through the store's ``watch``: a database is polled 4×/s (a
  rollback lands within ~0.3 s), a team server pushes each change down its
  change feed — nothing is polled, and while no rollout is active the
  controller waits for the feed instead of asking the server every second;
- ``edge_routes`` serves published edge bundles under ``/v2/edge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from modelport.control.controller import Controller
from modelport.core.store.endpoints import Watch
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
        self._changed = True  # an endpoint or rollout changed since the controller's last tick
        self._active = True  # the controller's last tick found an active rollout

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
        watch = app.repo.ws.store.endpoints.watch()
        follower = asyncio.get_running_loop().create_task(self._follow(app, watch))
        ticks = 0
        try:
            while True:
                await asyncio.sleep(POLL_S)
                ticks += 1
                try:
                    await app.refresh_keys()
                except Exception:
                    log.exception("reading API keys failed; keeping the last ones")
                if ticks % round(1 / POLL_S) == 0:
                    await self.publish(app, watch.pushed)
        finally:
            follower.cancel()
            watch.close()

    async def _follow(self, app: ServingApp, watch: Watch) -> None:
        """Re-read the endpoints whenever the watch says they changed; at least once a
        second, unload what no policy needs any more (one thread at a time changes the
        routers)."""
        while True:
            try:
                if await asyncio.to_thread(watch.wait, 1.0):
                    self._changed = True
                    await asyncio.to_thread(app.repo.refresh_endpoints)
                else:
                    await asyncio.to_thread(app.repo.release_unused)
            except Exception:  # a database hiccup must not stop serving
                log.exception("background refresh failed; retrying")
                await asyncio.sleep(POLL_S)

    async def publish(self, app: ServingApp, pushed: bool = False) -> None:
        """Write this worker's statistics, then run the controller — unless changes are
        ``pushed`` and none came since a tick that found no active rollout."""
        stats = app.service.stats
        try:
            stats.loaded = app.repo.endpoint_versions()
            # counted here, on the loop's thread; written on another
            await asyncio.to_thread(stats.write, stats.snapshot(), app.repo.ws)
        except Exception:
            log.exception("writing statistics failed; kept for the next write")
        if self.controller is not None and (self._changed or self._active or not pushed):
            self._changed = False
            try:
                self._active = await asyncio.to_thread(self.controller.tick) > 0
            except Exception:
                self._active = True  # look again next second
                log.exception("rollout controller tick failed; retrying")


def serving_app(service: InferenceService, guard: Guard | None = None,
                config: AppConfig | None = None, controller: Controller | None = None
                ) -> ServingApp:
    """The app a server runs: ``service`` over HTTP, with the control loop and the edge
    download routes composed in."""
    return ServingApp(service, guard, config, mounts={"edge": edge_routes.route},
                      companions=[ControlLoop(controller)])
