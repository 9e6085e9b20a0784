"""What text every store can keep."""

from __future__ import annotations

import re


def storable(text: str) -> bool:
    """Whether every store can keep and compare ``text``: PostgreSQL refuses NUL, and a
    lone surrogate cannot be encoded at all. Text that is not is refused before it
    reaches a store, so SQLite and PostgreSQL never disagree on what was kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def redact(url: str) -> str:
    """A database URL safe to print: the password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


INT64 = (-(2**63), 2**63 - 1)


def unstorable(value: object, where: str) -> str | None:
    """Where in a JSON value (``where``, ``where.key``, ``where[3]``) a store would fail:
    text ``storable`` refuses (also as a key) or an integer past 64 bits; None if nowhere.
    A server checks a body with it, so a client's mistake is a 422, never a database error."""
    if isinstance(value, str):
        return None if storable(value) else where
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        return None if INT64[0] <= value <= INT64[1] else where
    if isinstance(value, dict):
        for key, item in value.items():
            found = unstorable(key, where) or unstorable(item, f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = unstorable(item, f"{where}[{i}]")
            if found:
                return found
    return None
