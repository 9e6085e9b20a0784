"""Sweeping devices' retained statuses into the store: malformed or hostile statuses are
skipped, a rollback is counted once, and each device's role follows its group's notice."""

from __future__ import annotations

import time

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.runtimes.edge.fleet import record_fleet, role
from modelport_edge.mqtt import Broker, Topics, publish_retained


def status(device: str, state: str = "ok", **more: object) -> dict[str, object]:
    return {"device": device, "group": "g", "online": True, "state": state, "healthy": True,
            "model": "m", "version": 1, "digest": "a" * 64, "last_error": None,
            "metrics": {}, "ts": time.time(), **more}


def test_a_sweep_keeps_good_statuses_and_skips_bad_ones(mosquitto: str, prefix: str,
                                                       publisher: object, tmp_path: object
                                                       ) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))  # type: ignore[operator]
    broker, topics = Broker.parse(mosquitto), Topics(prefix)
    publish_retained(broker, topics.status("g", "good"), status("good"))
    publish_retained(broker, topics.status("g", "back"), status(
        "back", "rolled_back", last_error={"during": "check", "reason": "unhealthy",
                                           "message": "smoke rows differ"}))
    publish_retained(broker, topics.status("g", "badver"), status("badver", version="v9"))
    publish_retained(broker, topics.status("g", "nots"), {"device": "nots", "group": "g"})
    publish_retained(broker, topics.status("g", "huge"), status("x" * 300))
    kept = record_fleet(broker=mosquitto, topic_prefix=prefix, seconds=1.0, ws=ws)
    assert sorted(r.device for r in kept) == ["back", "good"]
    record_fleet(broker=mosquitto, topic_prefix=prefix, seconds=0.5, ws=ws)  # read again
    by_id = {d.device: d for d in ws.store.devices.list_devices("g")}
    assert by_id["back"].rollbacks == 1 and by_id["good"].rollbacks == 0
    assert by_id["back"].last_error == "unhealthy during check: smoke rows differ"
    assert by_id["good"].role == "unknown"  # the group has no update notice


def test_a_device_role_follows_the_notice() -> None:
    notice = {"model": "m", "version": 2, "digest": "b" * 64, "percent": 100}
    assert role("d", "b" * 64, notice) == "full"
    assert role("d", "b" * 64, {**notice, "percent": 20}) == "canary"
    canary = {**notice, "percent": 20, "fallback": {"digest": "a" * 64}}
    assert role("d", "a" * 64, canary) == "fallback"
    assert role("d", "c" * 64, notice) == "behind"  # should run b, runs something else
    assert role("d", None, None) == "unknown"
