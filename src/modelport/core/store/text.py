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
