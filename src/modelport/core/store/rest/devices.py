"""Edge devices over REST: ``DevicesRepository`` as calls to ``/api/v1/devices``."""

from __future__ import annotations

from dataclasses import asdict

from modelport.core.store.devices import DeviceRecord, DeviceReport
from modelport.core.store.rest.api import Api


class RestDevices:
    def __init__(self, api: Api) -> None:
        self.api = api

    def report_device(self, report: DeviceReport) -> None:
        self.api.call("POST", "/devices", asdict(report))

    def list_devices(self, group: str | None) -> list[DeviceRecord]:
        return [DeviceRecord(**d) for d in self.api.call("GET", "/devices", group=group)]
