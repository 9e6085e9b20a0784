"""The fleet in the store: devices' retained MQTT statuses copied into ``store.devices``.

Devices only talk to the broker; ``record_fleet`` reads every retained status
and every group's update notice once and keeps each device's status with its
place in the group's rollout (``role``): running the full release, in the
canary, on the fallback outside it, or ``behind`` (running something else — a
rollback, a refused bundle, an update not taken yet). The team server and the
dashboard then show the fleet without a broker connection of their own. A
sweep sees each device's last status only, so a rollback and recovery between
two sweeps is not counted; the agent's retained status says ``rolled_back``
until its next update, so a sweep every few minutes misses little.

>>> record_fleet(broker="mqtt://127.0.0.1:1883")                     # doctest: +SKIP
[DeviceReport(group='shop', device='till-1', …, role='canary', …)]
"""

from __future__ import annotations

from typing import Any

from modelport.core.store.devices import DeviceReport, check_report
from modelport.core.workspace import Workspace, current
from modelport.errors import BrokerError, InvalidInputError, ModelportError, require
from modelport.runtimes.edge.publish import DEFAULT_BROKER

UPDATE = "update"


def role(device: str, digest: str | None, notice: dict[str, Any] | None) -> str:
    """Where ``device`` running ``digest`` stands in its group's ``notice``."""
    from modelport_edge import canary

    if notice is None or "model" not in notice or "version" not in notice:
        return "unknown"
    fallback = notice.get("fallback") if isinstance(notice.get("fallback"), dict) else None
    if digest is not None and digest == notice.get("digest"):
        return "full" if float(notice.get("percent", 100)) >= 100 else "canary"
    if fallback is not None and digest == fallback.get("digest"):
        return "fallback"
    return "behind" if canary.target(notice, device) is not None else "unknown"


def report_of(status: dict[str, Any], notice: dict[str, Any] | None) -> DeviceReport:
    """A device's status message as a store report (refused if it is malformed)."""
    try:
        device, digest = str(status["device"]), status.get("digest")
        version = status.get("version")
        report = DeviceReport(
            group=str(status["group"]), device=device,
            model=None if status.get("model") is None else str(status["model"]),
            version=None if version is None else int(version),
            digest=None if digest is None else str(digest), state=str(status["state"]),
            healthy=bool(status.get("healthy")), online=bool(status.get("online")),
            role=role(device, digest, notice), seen=float(status["ts"]),
            last_error=_error(status.get("last_error")),
            metrics=dict(status.get("metrics") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"malformed device status: {exc}") from None
    check_report(report)
    return report


def _error(error: Any) -> str | None:
    """The agent's ``{during, reason, message}`` as one line."""
    if error is None:
        return None
    if isinstance(error, dict):
        text = f"{error.get('reason', 'error')} during {error.get('during', '?')}: " \
               f"{error.get('message', '')}"
    else:
        text = str(error)
    return text[:2000]


def record_fleet(group: str | None = None, broker: str = DEFAULT_BROKER,
                 topic_prefix: str | None = None, seconds: float = 1.0,
                 ws: Workspace | None = None) -> list[DeviceReport]:
    """Read every retained device status (in ``group``, or all) and keep it in the store;
    the reports kept. A malformed status is skipped (a device's words are untrusted)."""
    require("paho.mqtt", "edge")
    from modelport_edge.mqtt import DEFAULT_PREFIX, Broker, Topics, collect_retained

    ws = current(ws)
    prefix = Topics(topic_prefix or DEFAULT_PREFIX).prefix
    try:
        parsed = Broker.parse(broker)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    try:
        found = collect_retained(parsed, f"{prefix}/{group or '+'}/#", seconds)
    except ConnectionError as exc:
        raise BrokerError(str(exc)) from None
    notices = {topic.split("/")[-2]: msg for topic, msg in found.items()
               if topic.endswith("/" + UPDATE) and isinstance(msg, dict)}
    kept = []
    for topic, status in sorted(found.items()):
        parts = topic[len(prefix) + 1:].split("/")
        if len(parts) != 3 or parts[1] != "status" or not isinstance(status, dict):
            continue
        try:
            report = report_of(status, notices.get(parts[0]))
        except ModelportError:
            continue
        ws.store.devices.report_device(report)
        kept.append(report)
    return kept
