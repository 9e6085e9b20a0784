"""A local service a test needs (a database, a broker, a browser): skipped where it is
missing, unless MODELPORT_REQUIRE_SERVICES=1 (CI), where its absence fails the test."""

from __future__ import annotations

import os

import pytest


def require_service(name: str, reason: str) -> None:
    if os.environ.get("MODELPORT_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required (MODELPORT_REQUIRE_SERVICES=1) but {reason}")
    pytest.skip(f"{name} unavailable: {reason}")
