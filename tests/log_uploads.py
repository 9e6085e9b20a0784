"""The uploads a prediction-log route must survive, shared by the server's log tests (its
own directory, an object store): a sender that stops halfway, altered bytes, a retry, a
clash."""

from __future__ import annotations

import hashlib
import socket

import httpx


def digest_of(body: bytes) -> dict[str, str]:
    return {"x-content-sha256": hashlib.sha256(body).hexdigest()}


def stop_halfway(url: str, key: str, path: str, body: bytes) -> None:
    """Send a quarter of ``body`` to ``path`` with its whole length declared, then hang up."""
    port = int(url.rsplit(":", 1)[1])
    digest = hashlib.sha256(body).hexdigest()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {key}\r\n"
                    f"x-content-sha256: {digest}\r\nContent-Length: {len(body)}\r\n\r\n"
                    .encode() + body[:len(body) // 4])


def refuse_altered(api: httpx.Client, path: str, body: bytes) -> None:
    """Bytes that do not hash to the digest sent are refused: 422 ``digest_mismatch``."""
    altered = api.put(path, content=body[:-1] + b"x", headers=digest_of(body))
    assert (altered.status_code, altered.json()["code"]) == (422, "digest_mismatch")


def keep_once(api: httpx.Client, path: str, body: bytes) -> httpx.Response:
    """``body`` is kept whole; sent again (a retry whose answer was lost) it is kept once;
    other bytes under its name are a 409; the server then answers it as sent (returned)."""
    kept = api.put(path, content=body, headers=digest_of(body))
    assert kept.status_code == 201, kept.text
    assert api.put(path, content=body, headers=digest_of(body)).status_code == 201
    other = bytes(reversed(body))
    clash = api.put(path, content=other, headers=digest_of(other))
    assert (clash.status_code, clash.json()["code"]) == (409, "conflict")
    answer = api.get(path)
    assert answer.status_code == 200 and answer.content == body
    return answer


def one_of_each(api: httpx.Client, model: str, version: int = 1) -> None:
    """A small file of each kind (logs, labels) in this hour of ``model:version``."""
    import time
    import uuid

    hour = time.strftime("%Y-%m-%dT%H", time.gmtime())
    for kind in ("", "/labels"):
        put = api.put(f"/api/v1/prediction-logs/{model}/{version}{kind}/{hour}/"
                      f"part-{uuid.uuid4().hex}.parquet", content=b"PAR1",
                      headers=digest_of(b"PAR1"))
        assert put.status_code == 201, put.text
