"""``/api/v1/keys``: one route per method of ``KeysRepository``, for admin keys only.

Only a key's digest travels: ``modelport keys create`` against a remote store
makes the secret on the caller's machine and sends its SHA-256, so the server
never sees a secret it did not print itself (the bootstrap key).

A key created or revoked here counts on this server from the next request (its key
table is re-read then), so ``modelport keys create`` followed by ``modelport login``
works at once; other replicas of the server see it within their two seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody

from modelport.core.keys import SCOPES
from modelport.core.store.keys import KeyRecord
from modelport.core.store.projects import check_project
from modelport.errors import InvalidInputError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request


@dataclass
class NewKey:
    key: KeyRecord
    digest: str


@dataclass
class Revoke:
    now: float


@dataclass
class Revoked:
    revoked: bool


@post("/", guards=[needs("admin")], status_code=201, sync_to_thread=True)
def create_key(state: State, store: ProjectStore, data: JSONBody[NewKey]) -> None:
    storable(data)
    unknown = sorted(set(data.key["scopes"]) - set(SCOPES))
    if unknown or not data.key["scopes"]:
        raise InvalidInputError(f"scopes must be some of {', '.join(SCOPES)}, not {unknown}")
    for project in data.key.get("projects") or ():
        check_project(project)
    if len(data.digest) != 64 or data.digest.strip("0123456789abcdef"):
        raise InvalidInputError("digest must be a key's SHA-256 in hex")
    store.keys.create_key(data.key, data.digest)
    _reread_keys(state)


@get("/", guards=[needs("admin")], sync_to_thread=True)
def list_keys(store: ProjectStore, include_revoked: FromQuery[bool] = False) -> list[KeyRecord]:
    return store.keys.list_keys(include_revoked)  # type: ignore[no-any-return]


@get("/active", guards=[needs("admin")], sync_to_thread=True)
def active_keys_by_digest(store: ProjectStore) -> dict[str, KeyRecord]:
    return store.keys.active_keys_by_digest()  # type: ignore[no-any-return]


@post("/{key_id:str}/revoke", guards=[needs("admin")], status_code=200, sync_to_thread=True)
def revoke_key(state: State, store: ProjectStore, key_id: FromPath[str],
               data: JSONBody[Revoke]) -> Revoked:
    revoked = Revoked(store.keys.revoke_key(key_id, data.now))
    _reread_keys(state)
    return revoked


def _reread_keys(state: State) -> None:
    """Make this server's key table stale: the next request re-reads it."""
    if state.guard is not None:
        state.guard.stale()


router = Router("/api/v1/keys", route_handlers=[
    create_key, list_keys, active_keys_by_digest, revoke_key],
    tags=["keys"], before_request=storable_request)
