"""Real brokers for the stream tests: Redis, NATS JetStream and an MQTT broker.

``broker_url`` is parametrized over every registered scheme and hands each test
a stream / subject / topic of its own, deleted afterwards. A broker that is not
running skips its cases — unless MODELPORT_REQUIRE_SERVICES=1 (CI), where they
fail. Addresses can be moved with MODELPORT_TEST_REDIS / _NATS / _MQTT.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from streams import concept_drift

from modelport.core.workspace import Workspace
from modelport.lifecycle.online import train_online
from modelport.runtimes.stream import brokers

SERVERS = {
    "redis": os.environ.get("MODELPORT_TEST_REDIS", "redis://127.0.0.1:6379"),
    "nats": os.environ.get("MODELPORT_TEST_NATS", "nats://127.0.0.1:4222"),
    "mqtt": os.environ.get("MODELPORT_TEST_MQTT", "mqtt://127.0.0.1:1883"),
}
LIBRARIES = {"redis": "redis", "nats": "nats", "mqtt": "paho.mqtt"}
# One fresh name per test, in each broker's naming style. MQTT sessions left by a
# test's consumers expire after a few seconds instead of the default hour.
NAMES: dict[str, Callable[[str], str]] = {
    "redis": lambda tag: f"/mp-test-{tag}",
    "nats": lambda tag: f"/mp_test.{tag}",
    "mqtt": lambda tag: f"/mp-test/{tag}?session_expiry=5",
}
assert sorted(SERVERS) == brokers.schemes(), "every registered broker needs a test server"


def _require_service(request: pytest.FixtureRequest, name: str, reason: str) -> None:
    """The rule of tests/conftest.py (skip, or fail under MODELPORT_REQUIRE_SERVICES=1).
    Every conftest is imported as ``conftest``, so reach that one as the plugin it is."""
    root = Path(__file__).parents[2] / "conftest.py"
    request.config.pluginmanager.get_plugin(str(root))._require_service(name, reason)


def _reachable(server: str) -> str | None:
    parts = urlsplit(server)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return None
    except OSError as exc:
        return f"nothing answers at {server} ({exc.strerror or exc})"


@pytest.fixture(params=sorted(SERVERS))
def broker(request: pytest.FixtureRequest) -> str:
    """A broker scheme whose server is running and whose client library is installed."""
    scheme = str(request.param)
    try:
        __import__(LIBRARIES[scheme])
    except ImportError:
        _require_service(request, scheme, f"its client library {LIBRARIES[scheme]!r} is missing")
    problem = _reachable(SERVERS[scheme])
    if problem:
        _require_service(request, scheme, problem)
    return scheme


@pytest.fixture
def broker_url(broker: str) -> Iterator[str]:
    """A stream / subject / topic used by this test only; deleted afterwards."""
    url = SERVERS[broker] + NAMES[broker](uuid.uuid4().hex[:12])
    yield url
    brokers.delete(url)


@pytest.fixture(params=["redis", "nats"])
def make_url(request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """Fresh stream URLs of one broker for this test (events, predictions, labels…)."""
    scheme = str(request.param)
    made: list[str] = []
    tag = request.node.name.encode().hex()[-10:] + str(time.monotonic_ns())[-6:]

    def make(kind: str) -> str:
        url = SERVERS[scheme] + NAMES[scheme](f"{tag}{kind}").split("?")[0]
        made.append(url)
        made.append(brokers.dead_letter_url(url))
        return url

    _check_up(request, scheme)
    yield make
    for url in made:
        brokers.delete(url)


def _check_up(request: pytest.FixtureRequest, scheme: str) -> None:
    problem = _reachable(SERVERS[scheme])
    if problem:
        _require_service(request, scheme, problem)


@pytest.fixture
def online_model(env_ws: Workspace) -> str:
    frame, y = concept_drift(400, 10**9, seed=1)
    train_online(frame.assign(y=y), "y", "logistic_regression", name="drifty", ws=env_ws)
    return "drifty"


@pytest.fixture
def mqtt_server(request: pytest.FixtureRequest) -> str:
    _check_up(request, "mqtt")
    return SERVERS["mqtt"]
