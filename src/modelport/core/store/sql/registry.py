"""The registry on SQL: version numbers from one atomic ``INSERT … ON CONFLICT … RETURNING``."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.sql import ColumnElement

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.projects import DEFAULT_PROJECT, name_taken
from modelport.core.store.registry import (
    BLOB_TAG,
    Model,
    NewVersion,
    Registration,
    VersionRecord,
    check_batch,
    missing_model,
    missing_version,
)
from modelport.core.store.sql.numbering import register_numbered
from modelport.core.store.sql.projects import (
    forget_blobs,
    name_blobs,
    still_named,
    version_blobs,
)
from modelport.core.store.sql.upsert import count_up, insert_ignore, upsert
from modelport.core.store.sql.version_batch import register_batch
from modelport.errors import ConflictError, InvalidInputError, NotFoundError


class SqlRegistry:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_version(self, name: str, version: NewVersion, tags: Mapping[str, str],
                       now: float, number: int | None = None,
                       project: str = DEFAULT_PROJECT) -> int:
        """``project``: the one a new model is written in (``ScopedRegistry`` names it, so
        no other project sees the model even for an instant); a model's next version
        stays in the model's."""
        if number is None and self.db.dialect == "postgresql":  # one round trip
            with self.db.single() as conn:
                created = register_numbered(conn, name, version, tags, now, project)
            if created is None:
                raise name_taken("model", name)
            return created
        with self.db.write() as conn:
            model = {"name": name, "description": "", "created": now, "updated": now,
                     "project": project}
            if number is None:  # the model (created with its first version) and a number
                number = count_up(conn, t.models, model, "last_version", update=["updated"],
                                  where=_same_project)
            else:
                insert_ignore(conn, t.models, {**model, "last_version": 0})
                if _project(conn, name) == project:
                    _claim(conn, name, number, now)
                else:
                    number = None
            if number is None:  # another project created the model meanwhile
                raise name_taken("model", name)
            conn.execute(t.model_versions.insert().values(
                name=name, version=number, onnx=None, created=now, **version))
            name_blobs(conn, "models", name, version_blobs(version))
            if tags:
                conn.execute(t.model_tags.insert(), [
                    {"name": name, "version": number, "key": k, "value": v}
                    for k, v in tags.items()])
        return number

    def create_versions(self, batch: Sequence[Registration], now: float,
                        project: str = DEFAULT_PROJECT) -> list[int]:
        """``project``: as ``create_version``'s, for the batch's new models."""
        check_batch(batch)
        with self.db.write() as conn:
            return register_batch(conn, batch, now, project)

    def referenced_digests(self, digests: Collection[str]) -> set[str]:
        with self.db.read() as conn:
            return still_named(conn, digests)

    def has_model(self, name: str) -> bool:
        with self.db.read() as conn:
            return _has_model(conn, name)

    def pick_version(self, name: str, aliases: Sequence[str], latest: bool) -> int | None:
        a, v = t.model_aliases, t.model_versions
        with self.db.read() as conn:
            for alias in aliases:
                version: int | None = conn.execute(select(a.c.version).where(
                    a.c.name == name, a.c.alias == alias)).scalar()
                if version is not None:
                    return version
            if not latest:
                return None
            return conn.execute(select(func.max(v.c.version)).where(v.c.name == name)).scalar()

    def get_version(self, name: str, version: int) -> VersionRecord:
        v = t.model_versions
        with self.db.read() as conn:
            row = conn.execute(select(v).where(v.c.name == name, v.c.version == version)
                               ).mappings().first()
            if row is None:
                raise _missing(conn, name, version)
            return _attach(conn, name, [row])[0]

    def list_versions(self, name: str) -> list[VersionRecord]:
        v = t.model_versions
        with self.db.read() as conn:
            rows = conn.execute(select(v).where(v.c.name == name).order_by(v.c.version.desc())
                                ).mappings().all()
            if not rows and not _has_model(conn, name):
                raise missing_model(name)
            return _attach(conn, name, rows)

    def list_models(self) -> list[Model]:
        v = t.model_versions
        with self.db.read() as conn:
            stats = {n: (latest, count) for n, latest, count in conn.execute(
                select(v.c.name, func.max(v.c.version), func.count()).group_by(v.c.name))}
            models = {r["name"]: Model(r["name"], r["description"], r["created"], r["updated"],
                                       *stats.get(r["name"], (None, 0)))
                      for r in conn.execute(select(t.models).order_by(t.models.c.name)
                                            ).mappings()}
            for name, alias, number in conn.execute(select(t.model_aliases)):
                models[name].aliases[alias] = number
            for name, key, value in conn.execute(
                    select(t.model_tags.c.name, t.model_tags.c.key, t.model_tags.c.value)
                    .where(t.model_tags.c.version == 0)):
                models[name].tags[key] = value
        return list(models.values())

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with self.db.write() as conn:
            _lock(conn, name, version)
            upsert(conn, t.model_aliases, {"name": name, "alias": alias, "version": version},
                   update=["version"])

    def delete_alias(self, name: str, alias: str) -> None:
        a = t.model_aliases
        with self.db.write() as conn:
            gone = conn.execute(delete(a).where(a.c.name == name, a.c.alias == alias)).rowcount
        if not gone:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")

    def set_tag(self, name: str, version: int, key: str, value: str) -> None:
        with self.db.write() as conn:
            _lock(conn, name, version or None)
            upsert(conn, t.model_tags, {"name": name, "version": version, "key": key,
                                        "value": value}, update=["value"])
            if key.startswith(BLOB_TAG):
                name_blobs(conn, "models", name, [key.removeprefix(BLOB_TAG)])

    def find_tag(self, key: str) -> tuple[str, int, str] | None:
        g = t.model_tags
        with self.db.read() as conn:
            row = conn.execute(select(g.c.name, g.c.version, g.c.value).where(g.c.key == key)
                               .limit(1)).first()
        return (row.name, row.version, row.value) if row else None

    def set_description(self, name: str, version: int | None, description: str) -> None:
        self._update_version(name, version, description=description)

    def set_onnx(self, name: str, version: int, onnx: dict[str, Any]) -> None:
        self._update_version(name, version, onnx=onnx)

    def set_profile(self, name: str, version: int, digest: str) -> None:
        v = t.model_versions
        with self.db.write() as conn:
            if conn.execute(update(v).where(v.c.name == name, v.c.version == version,
                                            v.c.profile_digest.is_(None))
                            .values(profile_digest=digest)).rowcount:
                name_blobs(conn, "models", name, [digest])

    def _update_version(self, name: str, version: int | None, **values: Any) -> None:
        table, cond = _row(name, version)
        with self.db.write() as conn:
            if not conn.execute(update(table).where(cond).values(**values)).rowcount:
                raise _missing(conn, name, version)
            name_blobs(conn, "models", name, version_blobs(values))

    def delete_model(self, name: str) -> None:
        with self.db.write() as conn:  # versions, aliases and tags go by ON DELETE CASCADE
            if not conn.execute(delete(t.models).where(t.models.c.name == name)).rowcount:
                raise missing_model(name)
            forget_blobs(conn, "models", name)

    def delete_version(self, name: str, version: int) -> None:
        with self.db.write() as conn:
            _lock(conn, name, version)
            for table in (t.model_aliases, t.model_tags):
                conn.execute(delete(table).where(table.c.name == name,
                                                 table.c.version == version))
            v = t.model_versions
            conn.execute(delete(v).where(v.c.name == name, v.c.version == version))


def _same_project(models: Table, excluded: Any) -> ColumnElement[bool]:
    """A model takes a next version only from its own project (two projects racing to
    create one name: the second is refused, not given a version in the first's model)."""
    return models.c.project == excluded.project  # type: ignore[no-any-return]


def _project(conn: Connection, name: str) -> str | None:
    return conn.execute(select(t.models.c.project).where(t.models.c.name == name)).scalar()


def _lock(conn: Connection, name: str, version: int | None) -> None:
    """Lock the model's row (``version`` None) or the version's until the transaction
    ends, or raise: an alias or tag written meanwhile can then never outlive a version
    deleted at the same time (PostgreSQL; SQLite's write lock serialises writers)."""
    table, cond = _row(name, version)
    if conn.execute(select(table.c.name).where(cond).with_for_update()).first() is None:
        raise _missing(conn, name, version)


def _row(name: str, version: int | None) -> tuple[Table, ColumnElement[bool]]:
    """The table and condition naming a model (``version`` None) or one version."""
    if version is None:
        return t.models, t.models.c.name == name
    v = t.model_versions
    return v, (v.c.name == name) & (v.c.version == version)


def _has_model(conn: Connection, name: str) -> bool:
    return conn.execute(select(t.models.c.name).where(t.models.c.name == name)).first() is not None


def _missing(conn: Connection, name: str, version: int | None) -> NotFoundError:
    """The error for a missing model or version, naming which of the two is missing."""
    if version is None or not _has_model(conn, name):
        return missing_model(name)
    return missing_version(name, version)


def _attach(conn: Connection, name: str, rows: Any) -> list[VersionRecord]:
    """Version rows with their aliases and tags."""
    records: dict[int, VersionRecord] = {}
    for row in rows:
        record = dict(row, aliases=[], tags={})
        record["metrics"] = record["metrics"] or {}
        records[row["version"]] = record  # type: ignore[assignment]
    for alias, number in conn.execute(select(t.model_aliases.c.alias, t.model_aliases.c.version)
                                      .where(t.model_aliases.c.name == name)):
        if number in records:
            records[number]["aliases"].append(alias)
    for number, key, value in conn.execute(
            select(t.model_tags.c.version, t.model_tags.c.key, t.model_tags.c.value)
            .where(t.model_tags.c.name == name, t.model_tags.c.version > 0)):
        if number in records:
            records[number]["tags"][key] = value
    return list(records.values())


def _claim(conn: Connection, name: str, number: int, now: float) -> None:
    """Take ``number`` for a copied version: only one above every number handed out, so a
    deleted one is never reused either (the row lock of the update orders two claimers)."""
    if number < 1:
        raise InvalidInputError(f"a version number is 1 or more, not {number}")
    taken = conn.execute(
        update(t.models).where(t.models.c.name == name, t.models.c.last_version < number)
        .values(last_version=number, updated=now)).rowcount
    if not taken:
        raise ConflictError(f"{name}:{number} exists or existed in this store — "
                            "a copied version keeps its number, so it cannot be copied here")
