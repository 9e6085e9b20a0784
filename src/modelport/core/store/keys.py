"""API keys' contract with the store: only a key's SHA-256 is ever stored."""

from __future__ import annotations

from typing import NotRequired, Protocol, TypedDict


class KeyRecord(TypedDict):
    id: str
    name: str
    scopes: list[str]
    models: list[str] | None  # None: every model
    rate_limit: float | None  # requests per second; None: unlimited
    created: float
    revoked: float | None
    projects: NotRequired[list[str] | None]  # None or absent: every project


class KeysRepository(Protocol):
    """API keys. Thread-safe; every method is one transaction."""

    def create_key(self, key: KeyRecord, digest: str) -> None:
        """Store a key under the digest of its secret (unique: a digest names one key)."""
        ...

    def list_keys(self, include_revoked: bool) -> list[KeyRecord]:
        """Oldest first."""
        ...

    def active_keys_by_digest(self) -> dict[str, KeyRecord]:
        """Every key not revoked, by the digest of its secret."""
        ...

    def revoke_key(self, key_id: str, now: float) -> bool:
        """Revoke an active key; False if there is no active key ``key_id``."""
        ...
