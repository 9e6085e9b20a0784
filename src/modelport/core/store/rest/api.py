"""One HTTP connection pool to ``modelport server``: JSON in, JSON out, errors re-raised.

Every REST repository calls the server through ``Api.call``; a JSON error the
server rendered comes back as the same ``ModelportError`` class.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from modelport.core.store.text import redact
from modelport.errors import (
    InvalidInputError,
    NotFoundError,
    StoreUnavailableError,
    first_line,
    from_code,
    require,
)

TIMEOUT_S = 30.0


class Api:
    """One HTTP connection pool to the server; JSON in, JSON out, errors re-raised."""

    def __init__(self, url: str, token: str | None) -> None:
        httpx = require("httpx", "server")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = redact(url)
        self.client = httpx.Client(base_url=url.rstrip("/") + "/api/v1", headers=headers,
                                   timeout=TIMEOUT_S)
        self._transport_error = httpx.TransportError

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            response = self.client.request(method, path, json=body, params={
                k: v for k, v in params.items() if v is not None} or None)
        except UnicodeEncodeError as exc:  # JSON in UTF-8 cannot carry it: no store could
            raise _unsendable(exc) from exc
        except self._transport_error as exc:
            raise StoreUnavailableError(
                f"modelport server at {self.url} did not answer: {first_line(exc)}") from exc
        data = response.json() if response.content else None
        if response.status_code >= 400:
            if isinstance(data, dict) and "error" in data:
                raise from_code(str(data.get("code")), str(data["error"]), response.status_code)
            raise StoreUnavailableError(f"modelport server at {self.url} answered "
                                        f"{response.status_code}")
        return data

    def found(self, path: str) -> Any:
        """The record at ``path``, or None where the server answers 404 (none such)."""
        try:
            return self.call("GET", path)
        except NotFoundError:
            return None


def segment(text: str) -> str:
    """``text`` as one path segment: a ``/`` or ``?`` in a name stays part of it."""
    try:
        return quote(text, safe="")
    except UnicodeEncodeError as exc:
        raise _unsendable(exc) from exc


def _unsendable(exc: UnicodeEncodeError) -> InvalidInputError:
    return InvalidInputError("the store cannot keep a lone surrogate character "
                             f"({exc.object[exc.start:exc.end]!r})")
