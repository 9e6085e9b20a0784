"""API keys: who may call what.

A key is ``mp_<id>_<secret>``; the store keeps its id and the SHA-256 of the
whole key, never the key itself (a leaked database leaks no usable key).
Keys carry scopes — ``predict`` (inference), ``read`` (metadata, metrics),
``write`` (log runs and register models through ``modelport server``),
``deploy`` (what a release pipeline does: endpoints, rollouts, alias moves),
``feedback`` (labels that steer rollout analysis), ``admin`` (everything: keys,
the audit log) — and may be limited to some projects, some models and a request
rate. The metadata roles form a ladder, ``read`` < ``write`` < ``deploy`` < ``admin``: each
grants what the ones below it do, on the team server and on serving replicas alike (a
release pipeline's deploy key reads a replica's models and bundles). ``predict`` does not imply
``feedback``: a predict key ships inside every client app, while labels move
release decisions, so only the pipeline that owns the ground truth gets them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelport.core.store.keys import KeyRecord
from modelport.core.store.projects import check_project
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError

SCOPES = ("predict", "read", "write", "deploy", "feedback", "admin")
# scopes that also grant a scope: the ladder read < write < deploy (< admin, which grants all)
IMPLIED = {"read": ("write", "deploy"), "write": ("deploy",)}
PREFIX = "mp_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None
    rate_limit: float | None
    created: float
    revoked: float | None
    projects: tuple[str, ...] | None = None  # None: every project
    # the models as a set, so a check on every request is O(1) however many a key names
    model_set: frozenset[str] | None = field(init=False, repr=False, compare=False)
    project_set: frozenset[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_set",
                           frozenset(self.models) if self.models is not None else None)
        object.__setattr__(self, "project_set",
                           frozenset(self.projects) if self.projects is not None else None)

    def reaches(self, project: str) -> bool:
        """Whether the key may know that ``project`` exists (an admin key reaches all)."""
        return self.project_set is None or "admin" in self.scopes or project in self.project_set

    @property
    def restricted(self) -> bool:
        """Whether the key reaches only some models (an admin key reaches all)."""
        return self.model_set is not None and "admin" not in self.scopes

    def allows(self, scope: str, model: str | None = None) -> bool:
        if "admin" in self.scopes:
            return True
        if scope not in self.scopes and not any(s in self.scopes
                                                for s in IMPLIED.get(scope, ())):
            return False
        return model is None or self.model_set is None or model in self.model_set

    def sees(self, model: str) -> bool:
        """Whether the key may know of ``model`` at all (lists, metrics, bundles)."""
        return not self.restricted or model in self.model_set  # type: ignore[operator]

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("model_set", "project_set")}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(record: KeyRecord) -> ApiKey:
    models = record["models"]
    projects = record.get("projects")
    return ApiKey(record["id"], record["name"], tuple(record["scopes"]),
                  tuple(models) if models is not None else None, record["rate_limit"],
                  record["created"], record["revoked"],
                  tuple(projects) if projects is not None else None)


def create_key(name: str, scopes: Sequence[str] = ("predict",),
               models: Sequence[str] | None = None, rate_limit: float | None = None,
               ws: Workspace | None = None, projects: Sequence[str] | None = None
               ) -> tuple[ApiKey, str]:
    """A new key and its secret — the only time the secret is ever available."""
    ws = current(ws)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInputError(f"unknown scope {unknown[0] if unknown else '(none)'!r} — use "
                                f"{', '.join(SCOPES)}")
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidInputError("rate limit must be a positive number of requests per second")
    if not name.strip():
        raise InvalidInputError("a key needs a name saying who or what uses it")
    if projects and "admin" in scopes:
        raise InvalidInputError("an admin key reaches every project (it manages the keys of "
                                "all of them) — drop --project or the admin scope")
    for project in projects or ():
        check_project(project)
    key_id = secrets.token_hex(4)
    secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    key = ApiKey(key_id, name, tuple(scopes), tuple(models) if models else None, rate_limit,
                 time.time(), None, tuple(projects) if projects else None)
    ws.store.keys.create_key(KeyRecord(
        id=key.id, name=key.name, scopes=list(key.scopes),
        models=list(key.models) if key.models else None, rate_limit=rate_limit,
        created=key.created, revoked=None,
        projects=list(key.projects) if key.projects else None), digest(secret))
    return key, secret


def list_keys(ws: Workspace | None = None, include_revoked: bool = False) -> list[ApiKey]:
    return [_key(r) for r in current(ws).store.keys.list_keys(include_revoked)]


def active_keys_by_hash(ws: Workspace | None = None) -> dict[str, ApiKey]:
    """Every usable key, by the digest a presented secret will be looked up with."""
    return {h: _key(r) for h, r in current(ws).store.keys.active_keys_by_digest().items()}


def revoke_key(key_id: str, ws: Workspace | None = None) -> None:
    if not current(ws).store.keys.revoke_key(key_id, time.time()):
        raise NotFoundError(f"no active key {key_id!r} — list keys with: modelport keys list")
