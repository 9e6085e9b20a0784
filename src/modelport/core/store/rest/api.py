"""One HTTP connection pool to ``modelport server``: JSON in, JSON out, errors re-raised.

Every REST repository calls the server through ``Api.call``; a JSON error the
server rendered comes back as the same ``ModelportError`` class.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
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
TRANSFER_TIMEOUT_S = 300.0  # between two pieces of a blob, not for the whole of it
TOKEN_ENV = "MODELPORT_TOKEN"  # the key, when the caller names none (CI, a replica)
PROJECT_HEADER = "X-Modelport-Project"  # which project a call is about; ``default`` if absent
BARE = {401: "unauthorized", 403: "forbidden", 404: "not_found", 413: "too_large"}


class Api:
    """One HTTP connection pool to the server; JSON in, JSON out, errors re-raised."""

    @classmethod
    def connect(cls, url: str, token: str | None = None, project: str = "default") -> Api:
        """A pool to ``url`` with ``token``, or else the key ``MODELPORT_TOKEN`` holds."""
        return cls(url, token if token is not None else os.environ.get(TOKEN_ENV), project)

    def __init__(self, url: str, token: str | None, project: str = "default") -> None:
        httpx = require("httpx", "server")
        # one line per store call would bury a worker's own log (INFO under serve)
        logging.getLogger("httpx").setLevel(logging.WARNING)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if project != "default":
            headers[PROJECT_HEADER] = project
        self.url = redact(url)
        self.base, self.token = url.rstrip("/"), token  # for the change feed's own connection
        self.client = httpx.Client(base_url=url.rstrip("/") + "/api/v1", headers=headers,
                                   timeout=TIMEOUT_S)
        self.transport_error = httpx.TransportError

    def call(self, method: str, path: str, body: Any = None, *, content: Any = None,
             timeout: float | None = None, headers: dict[str, str] | None = None,
             **params: Any) -> Any:
        """One request: ``body`` as JSON (or raw ``content``), ``params`` as the query
        (None left out); the answer's JSON, or the server's error raised as its class."""
        options: dict[str, Any] = {"timeout": timeout} if timeout else {}
        if headers:
            options["headers"] = headers
        try:
            response = self.client.request(method, path, json=body, content=content, params={
                k: v for k, v in params.items() if v is not None} or None, **options)
        except UnicodeEncodeError as exc:  # JSON in UTF-8 cannot carry it: no store could
            raise _unsendable(exc) from exc
        except self.transport_error as exc:
            raise self._silent(exc) from exc
        self._check(response)
        return response.json() if response.content else None

    @contextlib.contextmanager
    def stream(self, method: str, path: str, timeout: float) -> Iterator[Any]:
        """A response whose body is read in pieces by the caller, its status checked."""
        try:
            with self.client.stream(method, path, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                self._check(response)
                yield response
        except self.transport_error as exc:
            raise self._silent(exc) from exc

    def _silent(self, exc: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"modelport server at {self.url} did not answer: {first_line(exc)}")

    def _check(self, response: Any) -> None:
        """The server's JSON error as its own class; a bare status (a HEAD) by its code."""
        status = response.status_code
        if status < 400:
            return
        data = response.json() if response.content else None
        if isinstance(data, dict) and "error" in data:
            raise from_code(str(data.get("code")), str(data["error"]), status)
        raise from_code(BARE.get(status, "store_unavailable"),
                        f"modelport server at {self.url} answered {status}", status)

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
