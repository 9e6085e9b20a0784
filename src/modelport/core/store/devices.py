"""Edge devices' contract with the store: each device's last reported status.

Devices report over MQTT (retained ``PREFIX/GROUP/status/DEVICE`` messages);
``runtimes/edge/fleet`` copies what it reads into the store, so the team server
and the dashboard can show the fleet without a broker connection of their own,
and a device keeps its history (first seen, rollbacks) after its broker message
is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from modelport.errors import InvalidInputError

ROLES = ("full", "canary", "fallback", "behind", "unknown")
LIMITS = {"group": 200, "device": 200, "model": 200, "digest": 64, "state": 32}


@dataclass(frozen=True)
class DeviceReport:
    """One status a device sent, and its place in its group's rollout (``role``)."""

    group: str
    device: str
    model: str | None
    version: int | None
    digest: str | None
    state: str  # ok | updating | rolled_back | refused | error | … (the agent's words)
    healthy: bool
    online: bool
    role: str  # full (runs the group's release) · canary · fallback · behind · unknown
    seen: float  # when the device sent it
    last_error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeviceRecord:
    group: str
    device: str
    model: str | None
    version: int | None
    digest: str | None
    state: str
    healthy: bool
    online: bool
    role: str
    last_error: str | None
    metrics: dict[str, Any]
    rollbacks: int  # reports that moved it into ``rolled_back``
    first_seen: float
    last_seen: float


class DevicesRepository(Protocol):
    """Devices. Thread-safe; every method is one transaction."""

    def report_device(self, report: DeviceReport) -> None:
        """Keep ``report`` as the device's status unless a later one is already kept (a
        retained message read twice changes nothing); a report that moves the device
        into ``rolled_back`` counts one rollback."""
        ...

    def list_devices(self, group: str | None) -> list[DeviceRecord]:
        """By group, then device."""
        ...


def check_report(report: DeviceReport) -> None:
    """Refuse a report the store could not keep as sent (a device's words are untrusted)."""
    if not report.group or not report.device:
        raise InvalidInputError("a device report needs a group and a device id")
    for name, limit in LIMITS.items():
        value = getattr(report, name)
        if value is not None and len(value) > limit:
            raise InvalidInputError(f"a device report's {name} may be at most {limit} characters")
    if report.role not in ROLES:
        raise InvalidInputError(f"a device's role is one of {', '.join(ROLES)}, not "
                                f"{report.role[:20]!r}")
