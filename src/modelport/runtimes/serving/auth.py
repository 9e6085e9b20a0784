"""Who may call the server: API keys, their scopes and models, and rate limits.

Every request but a health probe is authenticated first, before any route
looks at a model name or a version — an unauthenticated caller learns nothing
about what is served. Keys are read from the store into memory and re-read
every few seconds *off* the event loop, so a revoked key stops working without
a restart, a new key works at once, and no request waits on the database.

``--auth auto`` turns authentication on as soon as the first key exists — also
while the server runs — and leaves it on (revoking every key locks the server,
it never opens it again). Health probes stay open: load balancers carry no keys.
"""

from __future__ import annotations

import ipaddress
import math
import time

from modelport.core.keys import ApiKey, active_keys_by_hash, digest
from modelport.core.workspace import Workspace
from modelport.errors import ModelportError
from modelport.runtimes.serving.limits import Buckets

# answered without a key: liveness/readiness probes (OIP, MLflow, KServe's is_server_live)
OPEN_PATHS = frozenset({"/", "/ping", "/health", "/v2/health/live", "/v2/health/ready"})


class UnauthorizedError(ModelportError):
    code = "unauthorized"
    status = 401


class ForbiddenError(ModelportError):
    code = "forbidden"
    status = 403


class RateLimitedError(ModelportError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Guard:
    """Checks the key a request presents (``Authorization: Bearer KEY`` or ``X-API-Key``).

    ``mode`` is ``on`` (keys required from the start) or ``auto`` (required once any
    key exists). ``buckets`` are the rate-limit table the server's workers share."""

    def __init__(self, ws: Workspace, mode: str = "on", buckets: Buckets | None = None,
                 refresh_s: float = 2.0) -> None:
        self.ws = ws
        self.refresh_s = refresh_s
        self._keys: dict[str, ApiKey] = active_keys_by_hash(ws=ws)
        self.on = mode == "on" or bool(self._keys)
        self.loaded = time.monotonic()
        self.buckets = buckets if buckets is not None else Buckets()

    def refresh(self) -> bool:
        """Re-read the keys (blocking: call it off the event loop); whether auth is on.
        A failed read keeps the last keys and is retried ``refresh_s`` later."""
        self.loaded = time.monotonic()
        self._keys = active_keys_by_hash(ws=self.ws)
        if self._keys:
            self.on = True  # latched: once a key exists, keys stay required
        return self.on

    def stale(self) -> None:
        """The keys changed here: the next request re-reads them, not ``refresh_s`` later."""
        self.loaded = float("-inf")

    def authenticate(self, headers: dict[str, str]) -> ApiKey:
        """The key a request presents, or 401; spends one token of its rate limit (429)."""
        secret = headers.get("x-api-key")
        if secret is None:
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                secret = auth[7:].strip()
        if not secret:
            raise UnauthorizedError("an API key is required — send 'Authorization: Bearer KEY' "
                                    "(create one with: modelport keys create NAME)")
        key = self._keys.get(digest(secret))
        if key is None:
            raise UnauthorizedError("unknown or revoked API key")
        if key.rate_limit:
            wait = self.buckets.spend(key.id, key.rate_limit)
            if wait:
                raise RateLimitedError(f"key {key.id} is over its limit of {key.rate_limit:g} "
                                       "requests per second", retry_after=wait)
        return key


def authorize(key: ApiKey, scope: str, model: str | None = None) -> None:
    """403 unless ``key`` may use ``scope`` (on ``model``): O(1), a set lookup."""
    if not key.allows(scope, model):
        what = f"{scope} on model {model!r}" if model else scope
        raise ForbiddenError(f"key {key.id} ({key.name}) may not {what}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after_header(exc: RateLimitedError) -> tuple[bytes, bytes]:
    return (b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode())
