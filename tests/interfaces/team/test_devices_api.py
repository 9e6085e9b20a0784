"""``/api/v1/devices``: a read key lists the fleet, only a write key reports, and a report
the store could not keep is refused with a clear 400 (a device's words are untrusted)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app

REPORT = {"group": "shop", "device": "till-1", "model": "iris", "version": 2,
          "digest": "b" * 64, "state": "ok", "healthy": True, "online": True,
          "role": "canary", "seen": 100.0, "last_error": None, "metrics": {"predictions": 4}}


@pytest.fixture
def keys(ws: Workspace) -> dict[str, str]:
    return {scope: create_key(scope, [scope], ws=ws)[1] for scope in ("read", "write")}


@pytest.fixture
def client(ws: Workspace, keys: dict[str, str]) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(ws)) as c:
        yield c


def call(client: Any, method: str, key: str, body: Any = None) -> Any:
    return client.request(method, "/api/v1/devices", json=body, headers={"X-API-Key": key})


def test_a_write_key_reports_and_a_read_key_lists(client: Any, keys: dict[str, str]) -> None:
    assert call(client, "POST", keys["read"], REPORT).status_code == 403
    assert call(client, "POST", keys["write"], REPORT).status_code == 204
    [device] = call(client, "GET", keys["read"]).json()
    assert (device["device"], device["role"], device["rollbacks"], device["first_seen"]) == (
        "till-1", "canary", 0, 100.0)
    assert client.get("/api/v1/devices").status_code == 401


@pytest.mark.parametrize(("change", "error"), [
    ({"role": "boss"}, "role is one of"),
    ({"device": "x" * 201}, "device may be at most 200"),
    ({"state": "s" * 33}, "state may be at most 32"),
    ({"group": ""}, "needs a group"),
])
def test_a_report_the_store_cannot_keep_is_a_400(client: Any, keys: dict[str, str],
                                                 change: dict[str, Any], error: str) -> None:
    response = call(client, "POST", keys["write"], {**REPORT, **change})
    assert response.status_code == 400 and error in response.json()["error"]
    assert call(client, "GET", keys["read"]).json() == []


def test_a_nul_in_a_device_name_is_a_422(client: Any, keys: dict[str, str]) -> None:
    response = call(client, "POST", keys["write"], {**REPORT, "device": "a\x00b"})
    assert response.status_code == 422
