"""Who may call the server: API keys, their scopes and models, and rate limits.

Keys are read from the store into memory and refreshed every few seconds, so
a revoked key stops working without a restart and no request waits on the
database. Health probes stay open (load balancers carry no keys).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from modelport.core.keys import ApiKey, active_keys_by_hash, digest
from modelport.core.workspace import Workspace
from modelport.errors import ModelportError


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


@dataclass
class _Bucket:
    tokens: float
    stamp: float = field(default_factory=time.monotonic)


class Guard:
    """Checks the key a request presents (``Authorization: Bearer KEY`` or ``X-API-Key``)."""

    def __init__(self, ws: Workspace, refresh_s: float = 2.0) -> None:
        self.ws = ws
        self.refresh_s = refresh_s
        self._keys: dict[str, ApiKey] = active_keys_by_hash(ws=ws)
        self._loaded = time.monotonic()
        self._buckets: dict[str, _Bucket] = {}
        self._refreshing = threading.Lock()

    def _current(self) -> dict[str, ApiKey]:
        if time.monotonic() - self._loaded > self.refresh_s and self._refreshing.acquire(False):
            try:
                self._keys = active_keys_by_hash(ws=self.ws)
                self._loaded = time.monotonic()
            finally:
                self._refreshing.release()
        return self._keys

    def check(self, headers: dict[str, str], scope: str, model: str | None = None) -> ApiKey:
        secret = headers.get("x-api-key")
        if secret is None:
            auth = headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                secret = auth[7:].strip()
        if not secret:
            raise UnauthorizedError("an API key is required — send 'Authorization: Bearer KEY' "
                                    "(create one with: modelport keys create NAME)")
        key = self._current().get(digest(secret))
        if key is None:
            raise UnauthorizedError("unknown or revoked API key")
        if not key.allows(scope, model):
            what = f"{scope} on model {model!r}" if model else scope
            raise ForbiddenError(f"key {key.id} ({key.name}) may not {what}")
        if key.rate_limit:
            self._spend(key)
        return key

    def _spend(self, key: ApiKey) -> None:
        """A token bucket per key: ``rate_limit`` per second, bursts up to one second's worth."""
        assert key.rate_limit
        now = time.monotonic()
        bucket = self._buckets.get(key.id)
        if bucket is None:
            bucket = self._buckets[key.id] = _Bucket(key.rate_limit, now)
        bucket.tokens = min(key.rate_limit, bucket.tokens + (now - bucket.stamp) * key.rate_limit)
        bucket.stamp = now
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / key.rate_limit
            raise RateLimitedError(f"key {key.id} is over its limit of {key.rate_limit:g} "
                                   "requests per second", retry_after=wait)
        bucket.tokens -= 1


def retry_after_header(exc: RateLimitedError) -> tuple[bytes, bytes]:
    return (b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode())
