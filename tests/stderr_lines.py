"""Reading a command's stderr as a user does: progress lines apart from the error."""

from __future__ import annotations

PROGRESS = ("✓ ", "… ")  # a finished step; a plain progress line off a terminal


def error_lines(stderr: str) -> list[str]:
    """stderr without the progress lines a long command prints above its error."""
    return [line for line in stderr.strip().splitlines() if not line.startswith(PROGRESS)]
