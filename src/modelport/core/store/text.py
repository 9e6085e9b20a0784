"""What text every store can keep."""

from __future__ import annotations


def storable(text: str) -> bool:
    """Whether every store can keep and compare ``text``: PostgreSQL refuses NUL, and a
    lone surrogate cannot be encoded at all. Text that is not is refused before it
    reaches a store, so SQLite and PostgreSQL never disagree on what was kept."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
