"""API keys on SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.keys import KeyRecord
from modelport.errors import ConflictError


class SqlKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_key(self, key: KeyRecord, digest: str) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(t.api_keys.insert().values(**key, hash=digest))
        except IntegrityError:  # the id or the digest is taken
            raise ConflictError(f"key {key['id']!r} (or its secret) already exists") from None

    def list_keys(self, include_revoked: bool) -> list[KeyRecord]:
        query = select(t.api_keys).order_by(t.api_keys.c.created)
        if not include_revoked:
            query = query.where(t.api_keys.c.revoked.is_(None))
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def active_keys_by_digest(self) -> dict[str, KeyRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(t.api_keys).where(t.api_keys.c.revoked.is_(None)))
            return {r["hash"]: _record(r) for r in rows.mappings()}

    def revoke_key(self, key_id: str, now: float) -> bool:
        k = t.api_keys
        with self.db.write() as conn:
            return bool(conn.execute(update(k).where(k.c.id == key_id, k.c.revoked.is_(None))
                                     .values(revoked=now)).rowcount)


def _record(row: Any) -> KeyRecord:
    return KeyRecord(id=row["id"], name=row["name"], scopes=list(row["scopes"]),
                     models=list(row["models"]) if row["models"] is not None else None,
                     rate_limit=row["rate_limit"], created=row["created"],
                     revoked=row["revoked"],
                     projects=list(row["projects"]) if row["projects"] is not None else None)
