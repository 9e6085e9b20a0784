"""Publishing a bundle to a group of devices, and reading back what the devices say.

``publish`` stores the bundle as an artifact, records it as published (so
``modelport serve`` will hand it out) and sets the group's retained update
notice. A notice below 100 % is a canary: it carries the group's last full
rollout as ``fallback``, which devices outside the canary keep running (see
``modelport_edge.canary``). Widening the same version keeps the fallback;
publishing at 100 % makes it the new fallback for the next canary.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from modelport.core.workspace import Workspace, current
from modelport.errors import (
    BrokerError,
    BundleRejectedError,
    InvalidInputError,
    require,
)
from modelport.lifecycle.registry import get_version
from modelport.runtimes.edge import signing
from modelport.runtimes.edge.catalog import record_published
from modelport.runtimes.edge.export import build_bundle

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


def publish(ref: str, group: str, percent: float = 100.0, broker: str = DEFAULT_BROKER,
            bundle: str | Path | None = None, key: str | None = None,
            quantize: str | None = None, topic_prefix: str | None = None,
            ws: Workspace | None = None) -> dict[str, Any]:
    """Announce ``ref`` to ``group`` (``percent`` of its devices); the notice sent."""
    require("paho.mqtt", "edge")
    from modelport_edge import BundleRejected
    from modelport_edge.bundle import read_bundle, sha256
    from modelport_edge.mqtt import (
        DEFAULT_PREFIX,
        Broker,
        Topics,
        collect_retained,
        publish_retained,
    )

    if not 0 < percent <= 100:
        raise InvalidInputError(f"--percent must be in (0, 100], not {percent:g}")
    ws = current(ws)
    version = get_version(ref, ws=ws)
    if bundle is None:
        data = build_bundle(version.ref, key=key, quantize=quantize, ws=ws).data
    else:
        data = Path(bundle).read_bytes()
        # refuse to announce what our own keys cannot vouch for
        try:
            checked = read_bundle(data, signing.local_trust())
        except BundleRejected as exc:
            raise BundleRejectedError(f"will not publish {bundle}: {exc.message}",
                                      exc.reason) from None
        if (checked.model, checked.version) != (version.name, version.version):
            raise InvalidInputError(f"{bundle} holds {checked.model}:{checked.version}, not "
                                    f"{version.ref}")
    digest = sha256(data)
    ws.artifacts.put(data)
    topics = Topics(topic_prefix or DEFAULT_PREFIX)
    target = {"model": version.name, "version": version.version, "digest": digest,
              "size": len(data), "url": f"/v2/edge/bundles/{digest}"}
    record_published(version.ref, digest, {"group": group, "percent": percent,
                                           "size": len(data), "at": time.time()}, ws=ws)
    parsed, topic = _broker(broker, Broker), topics.update(group)
    try:
        previous = collect_retained(parsed, topic, 0.5).get(topic)
        notice = {**target, "percent": percent, "published_at": time.time(),
                  "fallback": None if percent >= 100 else _fallback(previous, target)}
        publish_retained(parsed, topic, notice)
    except ConnectionError as exc:
        raise BrokerError(str(exc)) from None
    return notice


def _fallback(previous: dict[str, Any] | None, target: dict[str, Any]) -> dict[str, Any] | None:
    """What devices outside a new canary run: the group's last full rollout."""
    if previous is None:
        return None
    keys = ("model", "version", "digest", "size", "url")
    if float(previous.get("percent", 100)) >= 100:
        full = {k: previous[k] for k in keys if k in previous}
        return None if full.get("digest") == target["digest"] else full
    fallback = previous.get("fallback")
    return dict(fallback) if isinstance(fallback, dict) else None


def devices(group: str | None = None, broker: str = DEFAULT_BROKER,
            topic_prefix: str | None = None, seconds: float = 1.0) -> list[dict[str, Any]]:
    """Every device's last retained status (in ``group``, or all groups)."""
    require("paho.mqtt", "edge")
    from modelport_edge.mqtt import DEFAULT_PREFIX, Broker, Topics, collect_retained

    prefix = Topics(topic_prefix or DEFAULT_PREFIX).prefix
    topic = f"{prefix}/{group or '+'}/status/+"
    try:
        found = collect_retained(_broker(broker, Broker), topic, seconds)
    except ConnectionError as exc:
        raise BrokerError(str(exc)) from None
    return sorted(found.values(), key=lambda s: (str(s.get("group")), str(s.get("device"))))


def _broker(url: str, broker_cls: Any) -> Any:
    try:
        return broker_cls.parse(url)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
