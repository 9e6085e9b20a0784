"""``/api/v1/devices``: the edge fleet's last statuses, one route per method of
``DevicesRepository``. Reports come from whoever reads the devices' MQTT statuses
(``modelport edge devices --record``), so writing one needs a ``write`` key."""

from __future__ import annotations

from litestar import Router, get, post
from litestar.params import FromQuery, JSONBody

from modelport.core.store.devices import DeviceRecord, DeviceReport, check_report
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request


@post("/", guards=[needs("write")], status_code=204, sync_to_thread=True)
def report_device(store: ProjectStore, data: JSONBody[DeviceReport]) -> None:
    storable(data)
    check_report(data)
    store.devices.report_device(data)


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_devices(store: ProjectStore, group: FromQuery[str | None] = None) -> list[DeviceRecord]:
    return store.devices.list_devices(group)  # type: ignore[no-any-return]


router = Router("/api/v1/devices", route_handlers=[report_device, list_devices],
                tags=["devices"], before_request=storable_request)
