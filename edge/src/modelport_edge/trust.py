"""Which publishers a device trusts: Ed25519 public keys, by key id.

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public
key, so publisher and device name a key the same way without a registry.
Trust is explicit — a device loads only bundles signed by a key it was given
(``--trust FILE`` or a directory of ``*.pub`` files).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelport_edge.errors import BundleRejected


def key_id(public_key: Any) -> str:
    """The id of an Ed25519 public key (``cryptography`` object)."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_from_pem(data: bytes, where: str = "key") -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise BundleRejected("bad_trust", f"{where} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleRejected("bad_trust", f"{where} is not an Ed25519 public key")
    return key


class Trust:
    """The set of public keys a device accepts bundles from."""

    def __init__(self, keys: Iterable[Any] = ()) -> None:
        self.keys: dict[str, Any] = {}
        for key in keys:
            self.keys[key_id(key)] = key

    @classmethod
    def load(cls, files: Iterable[str | Path] = (), dirs: Iterable[str | Path] = ()) -> Trust:
        paths = [Path(f) for f in files]
        for d in dirs:
            paths.extend(sorted(p for p in Path(d).glob("*") if p.suffix in (".pub", ".pem")))
        keys = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise BundleRejected("bad_trust", f"cannot read trusted key {path}: "
                                                  f"{exc.strerror}") from None
            keys.append(public_key_from_pem(data, str(path)))
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def get(self, kid: str) -> Any:
        return self.keys.get(kid)
