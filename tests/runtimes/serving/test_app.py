"""The ASGI app in-process: readiness before loading, the access log."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.runtimes.serving.app import AppConfig, ServingApp
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService


def _app(model_home, **config) -> ServingApp:  # type: ignore[no-untyped-def]
    ws = Workspace.open(Settings(home=model_home))
    return ServingApp(InferenceService(Repository(["iris"], ws=ws)), config=AppConfig(**config))


async def _get(app: ServingApp, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


def test_not_ready_until_models_are_loaded(model_home) -> None:  # type: ignore
    app = _app(model_home)

    async def scenario() -> tuple[int, int, int]:
        before = (await _get(app, "/v2/health/ready")).status_code
        live = (await _get(app, "/v2/health/live")).status_code
        await app.startup()
        after = (await _get(app, "/v2/health/ready")).status_code
        return before, live, after

    assert asyncio.run(scenario()) == (503, 200, 200)
    app.repo.close()
    forget_stores()


def test_access_log_is_optional(model_home, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore
    quiet, loud = _app(model_home), _app(model_home, access_log=True)
    with caplog.at_level(logging.INFO, logger="modelport.access"):
        asyncio.run(_get(quiet, "/v2/health/live"))
        assert not [r for r in caplog.records if r.name == "modelport.access"]
        asyncio.run(_get(loud, "/v2/health/live"))
    lines = [r.getMessage() for r in caplog.records if r.name == "modelport.access"]
    assert len(lines) == 1 and lines[0].startswith("GET /v2/health/live 200")
    forget_stores()


def test_the_asgi_factory_serves_under_another_server(model_home, monkeypatch) -> None:  # type: ignore
    """Without keys it answers only connections to a loopback address (the address another
    server listens on is known only per connection): never open on a public interface."""
    import json

    from modelport.interfaces.server import ENV, app_from_env

    monkeypatch.setenv("MODELPORT_HOME", str(model_home))
    monkeypatch.setenv(ENV, json.dumps({"refs": ["iris"], "controller": False}))
    forget_stores()
    app = app_from_env()

    async def scenario() -> list[int]:
        await app.startup()
        body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                            "data": [5.1, 3.5, 1.4, 0.2]}]}
        transport = httpx.ASGITransport(app=app)
        statuses = []
        for base in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://10.1.2.3:8000",
                     "http://example.com"):
            async with httpx.AsyncClient(transport=transport, base_url=base) as client:
                statuses.append((await client.post("/v2/models/iris/infer", json=body))
                                .status_code)
        await app.shutdown()
        return statuses

    assert asyncio.run(scenario()) == [200, 200, 403, 403]
    monkeypatch.setenv(ENV, json.dumps({"refs": ["iris"], "controller": False,
                                        "insecure": True}))
    assert not app_from_env().config.loopback_only
    forget_stores()



def test_a_scope_check_without_a_key_fails_closed(model_home) -> None:  # type: ignore
    """Routes check scopes on the key authenticated before routing; should a route ever be
    reached without one while keys are required, it is 401, not open."""
    from modelport.runtimes.serving.auth import Guard, UnauthorizedError
    from modelport.runtimes.serving.http import Request

    ws = Workspace.open(Settings(home=model_home))
    app = ServingApp(InferenceService(Repository(["iris"], ws=ws)), Guard(ws, "on"))
    with pytest.raises(UnauthorizedError, match="API key is required"):
        app.allow(Request("GET", "/v2/health/live", {}), "read", "iris")
    open_app = ServingApp(InferenceService(Repository(["iris"], ws=ws)))
    open_app.allow(Request("GET", "/", {}), "read")  # no auth
    forget_stores()
