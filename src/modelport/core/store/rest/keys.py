"""API keys over REST: ``KeysRepository`` as calls to ``/api/v1/keys`` (an admin key's).

Only a key's digest crosses the wire; the secret never leaves the machine
that made it.
"""

from __future__ import annotations

from modelport.core.store.keys import KeyRecord
from modelport.core.store.rest.api import Api, segment
from modelport.errors import ModelportError, from_code


class RestKeys:
    def __init__(self, api: Api) -> None:
        self.api = api

    def create_key(self, key: KeyRecord, digest: str) -> None:
        self.api.call("POST", "/keys", {"key": dict(key), "digest": digest})

    def list_keys(self, include_revoked: bool) -> list[KeyRecord]:
        return list(self.api.call("GET", "/keys", include_revoked=include_revoked))

    def active_keys_by_digest(self) -> dict[str, KeyRecord]:
        """Every active key (an admin key's read): what ``modelport serve`` checks its
        callers against, so a replica on a remote workspace runs with an admin key."""
        try:
            return dict(self.api.call("GET", "/keys/active"))
        except ModelportError as exc:
            if exc.code != "forbidden":
                raise
            raise from_code(exc.code, f"{exc.message} — reading the server's keys (as "
                            "modelport serve does to check its callers) needs an admin key "
                            "in MODELPORT_TOKEN", exc.status) from None

    def revoke_key(self, key_id: str, now: float) -> bool:
        return bool(self.api.call("POST", f"/keys/{segment(key_id)}/revoke",
                                  {"now": now})["revoked"])
