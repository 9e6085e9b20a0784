"""Edge devices on SQL."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import select, update

from modelport.core.store import schema as t
from modelport.core.store.devices import DeviceRecord, DeviceReport
from modelport.core.store.engine import Database
from modelport.core.store.sql.upsert import insert_ignore

ROLLED_BACK = "rolled_back"


class SqlDevices:
    def __init__(self, db: Database) -> None:
        self.db = db

    def report_device(self, report: DeviceReport) -> None:
        d = t.edge_devices
        values = asdict(report)
        seen = values.pop("seen")
        with self.db.write() as conn:
            # a first sighting is kept as it is; otherwise the row read back is older
            insert_ignore(conn, d, {**values, "rollbacks": int(report.state == ROLLED_BACK),
                                    "first_seen": seen, "last_seen": seen})
            key = (d.c.group == report.group) & (d.c.device == report.device)
            before = conn.execute(select(d.c.state, d.c.last_seen).where(key)).one()
            if before.last_seen >= seen:  # ours just now, or a later (or the same) report
                return
            moved = report.state == ROLLED_BACK and before.state != ROLLED_BACK
            conn.execute(update(d).where(key).values(
                **values, last_seen=seen, rollbacks=d.c.rollbacks + int(moved)))

    def list_devices(self, group: str | None) -> list[DeviceRecord]:
        d = t.edge_devices
        query = select(d).order_by(d.c.group, d.c.device)
        if group:
            query = query.where(d.c.group == group)
        with self.db.read() as conn:
            return [DeviceRecord(**r) for r in conn.execute(query).mappings()]
