"""Ed25519 signing keys for edge bundles, kept as files under ``$MODELPORT_HOME/signing``.

A private key never leaves the publisher: ``NAME.key`` (PKCS#8 PEM, mode
0600, in a 0700 directory). Devices are given the public half
(``modelport keys signing public NAME``) and trust only bundles it verifies.
Keys are named by id — the first 16 hex digits of the SHA-256 of the raw
public key — the same id the device computes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.config import Settings
from modelport.errors import ConflictError, InvalidInputError, NotFoundError, require

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SigningKey:
    name: str
    key_id: str
    path: Path

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key_id": self.key_id, "path": str(self.path)}


def signing_dir() -> Path:
    return Settings.from_env().home / "signing"


def _path(name: str) -> Path:
    if not _NAME.match(name):
        raise InvalidInputError(f"invalid signing key name {name!r}: letters, digits, '.', '_' "
                                "and '-', at most 64")
    return signing_dir() / f"{name}.key"


def create_signing_key(name: str) -> SigningKey:
    """A new Ed25519 key pair; the private key is written once, readable by its owner only."""
    require("cryptography", "edge")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConflictError(f"signing key {name!r} already exists ({path})") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return SigningKey(name, _key_id(key.public_key()), path)


def load_private(name: str) -> Any:
    require("cryptography", "edge")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = _path(name)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise NotFoundError(f"no signing key {name!r} — create one with: modelport keys "
                            f"signing create {name}") from None
    except ValueError:
        raise InvalidInputError(f"{path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInputError(f"{path} is not an Ed25519 key")
    return key


def list_signing_keys() -> list[SigningKey]:
    folder = signing_dir()
    if not folder.is_dir():
        return []
    return [SigningKey(p.stem, _key_id(load_private(p.stem).public_key()), p)
            for p in sorted(folder.glob("*.key"))]


def choose(name: str | None) -> str:
    """``name``, or the only signing key there is."""
    if name:
        return name
    keys = list_signing_keys()
    if not keys:
        raise NotFoundError("no signing key yet — create one with: modelport keys signing "
                            "create NAME")
    if len(keys) > 1:
        raise InvalidInputError(f"several signing keys ({', '.join(k.name for k in keys)}) — "
                                "choose one with --key NAME")
    return keys[0].name


def public_pem(name: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(load_private(name).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def local_trust() -> Any:
    """A ``modelport_edge.Trust`` of every local signing key's public half."""
    from modelport_edge.trust import Trust

    return Trust(load_private(k.name).public_key() for k in list_signing_keys())


def _key_id(public_key: Any) -> str:
    from modelport_edge.trust import key_id

    return key_id(public_key)
