"""Which devices take a canary: a stable hash, so widening keeps the devices already in.

A device takes version V of model M when ``hash(device, M, V) mod 100 <
percent``. The same device always lands in the same bucket for the same
version, so moving a canary from 10 % to 50 % only adds devices, and a device
can decide alone — no coordinator, no list of devices on the publisher.

An update notice (one retained MQTT message per group) carries the canary
target and a ``fallback``: the last full rollout. A device outside the canary
installs the fallback, so "v1 to all, then v2 to 33 %" leaves two thirds of
the fleet on v1 — including devices that join after the canary started.
"""

from __future__ import annotations

import hashlib
from typing import Any


def bucket(device_id: str, model: str, version: int) -> int:
    """The device's bucket (0–99) for this model version."""
    digest = hashlib.sha256(f"{device_id}\x00{model}\x00{version}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def selected(device_id: str, model: str, version: int, percent: float) -> bool:
    return bucket(device_id, model, version) < percent


def target(notice: dict[str, Any], device_id: str) -> dict[str, Any] | None:
    """The bundle a device should run under ``notice``: the canary target when the
    device is selected, else the notice's fallback (None: keep what it runs)."""
    percent = float(notice.get("percent", 100))
    if selected(device_id, str(notice["model"]), int(notice["version"]), percent):
        return notice
    fallback = notice.get("fallback")
    return fallback if isinstance(fallback, dict) else None
