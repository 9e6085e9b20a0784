"""API keys over REST: ``KeysRepository`` as calls to ``/api/v1/keys`` (an admin key's).

Only a key's digest crosses the wire; the secret never leaves the machine
that made it.
"""

from __future__ import annotations

from modelport.core.store.keys import KeyRecord
from modelport.core.store.rest.api import Api, segment


class RestKeys:
    def __init__(self, api: Api) -> None:
        self.api = api

    def create_key(self, key: KeyRecord, digest: str) -> None:
        self.api.call("POST", "/keys", {"key": dict(key), "digest": digest})

    def list_keys(self, include_revoked: bool) -> list[KeyRecord]:
        return list(self.api.call("GET", "/keys", include_revoked=include_revoked))

    def active_keys_by_digest(self) -> dict[str, KeyRecord]:
        return dict(self.api.call("GET", "/keys/active"))

    def revoke_key(self, key_id: str, now: float) -> bool:
        return bool(self.api.call("POST", f"/keys/{segment(key_id)}/revoke",
                                  {"now": now})["revoked"])
