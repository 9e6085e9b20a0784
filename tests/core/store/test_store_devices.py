"""The devices repository's contract, on every store implementation and database."""

from __future__ import annotations

import dataclasses

import pytest

from modelport.core.store import Store
from modelport.core.store.devices import DeviceReport
from modelport.errors import InvalidInputError


def status(device: str, state: str, seen: float, group: str = "shop", **more: object
           ) -> DeviceReport:
    report = DeviceReport(group=group, device=device, model="iris", version=1,
                          digest="a" * 64, state=state, healthy=True, online=True,
                          role="full", seen=seen, metrics={"predictions": 3})
    return dataclasses.replace(report, **more)  # type: ignore[arg-type]


def test_a_device_keeps_its_latest_status_and_counts_its_rollbacks(store: Store) -> None:
    devices = store.devices
    devices.report_device(status("till-1", "ok", 10.0))
    devices.report_device(status("till-1", "rolled_back", 20.0, version=2, role="behind",
                                 last_error="unhealthy during check: smoke rows differ"))
    devices.report_device(status("till-1", "rolled_back", 20.0))  # the same message again
    devices.report_device(status("till-1", "rolled_back", 25.0, role="behind"))
    devices.report_device(status("till-1", "ok", 15.0, version=9))  # older: ignored
    [record] = devices.list_devices(None)
    assert (record.state, record.version, record.role, record.rollbacks) == (
        "rolled_back", 1, "behind", 1)
    assert (record.first_seen, record.last_seen) == (10.0, 25.0)
    assert record.metrics == {"predictions": 3}
    devices.report_device(status("till-1", "ok", 30.0))
    devices.report_device(status("till-1", "rolled_back", 40.0))
    assert devices.list_devices("shop")[0].rollbacks == 2


def test_devices_are_listed_by_group_then_device(store: Store) -> None:
    for group, device in (("shop", "b"), ("depot", "z"), ("shop", "a")):
        store.devices.report_device(status(device, "ok", 1.0, group=group))
    assert [(d.group, d.device) for d in store.devices.list_devices(None)] == [
        ("depot", "z"), ("shop", "a"), ("shop", "b")]
    assert [d.device for d in store.devices.list_devices("shop")] == ["a", "b"]
    assert store.devices.list_devices("none") == []


def test_a_report_the_store_cannot_keep_is_refused(store: Store) -> None:
    from modelport.core.store.devices import check_report

    with pytest.raises(InvalidInputError, match="role is one of"):
        check_report(status("d", "ok", 1.0, role="boss"))
    with pytest.raises(InvalidInputError, match="device may be at most 200"):
        check_report(status("d" * 201, "ok", 1.0))
    with pytest.raises(InvalidInputError, match="needs a group"):
        check_report(status("", "ok", 1.0))
