"""The server a user logged in to: ``modelport login`` keeps its URL and key in a file.

``$XDG_CONFIG_HOME/modelport/login.json`` (``~/.config/modelport/login.json``
without it), readable by its owner only (0600, in a 0700 directory): it holds
a secret. ``MODELPORT_URL`` and ``MODELPORT_TOKEN`` win over it, so CI needs
no file; ``MODELPORT_DB_URL`` (a database of one's own) wins over both.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from modelport.errors import InvalidInputError
from modelport_edge.device import write_atomic


@dataclass(frozen=True)
class Login:
    url: str
    token: str = field(repr=False)


def login_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "modelport" / "login.json"


def server_url(url: str) -> str:
    """``url`` as a server's base URL (``http(s)://host[:port][/prefix]``), or the reason not."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.query \
            or parsed.username or parsed.password:
        raise InvalidInputError(f"not a modelport server URL: {url!r} — e.g. "
                                "https://modelport.example.com or http://127.0.0.1:8080")
    return url.strip().rstrip("/")


def read_login() -> Login | None:
    """The saved login, or None when there is none."""
    path = login_path()
    try:
        data = json.loads(path.read_bytes())
        return Login(server_url(data["url"]), str(data["token"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, InvalidInputError):
        raise InvalidInputError(f"{path} is not a modelport login — log in again with: "
                                "modelport login URL, or delete it") from None


def save_login(login: Login) -> Path:
    """Write the login whole (never half a file), readable by its owner only."""
    path = login_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"url": login.url, "token": login.token}).encode())
    os.chmod(path, 0o600)  # mkstemp made it 0600 already; say so where it matters
    return path


def forget_login() -> bool:
    """Remove the saved login; whether there was one."""
    path = login_path()
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
