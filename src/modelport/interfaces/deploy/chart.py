"""The Helm chart for ``modelport server``, shipped inside the package as plain files.

The templates use a deliberately small part of Helm's template language — value
and release/chart lookups, ``| quote`` — so they read like the manifests they
render and need no helper templates; ``values.yaml`` holds the PostgreSQL and
artifact-store settings every replica shares.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from modelport.errors import InvalidInputError

CHART = "chart"


def write_chart(out: Path) -> list[Path]:
    """Copy the chart into the new or empty directory ``out``; the files written."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"{out} is not an empty directory — the chart is written "
                                "into a new one")
    return _copy(resources.files("modelport.interfaces.deploy").joinpath(CHART), out)


def _copy(source: Traversable, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for item in sorted(source.iterdir(), key=lambda t: t.name):
        if item.is_dir():
            written += _copy(item, out / item.name)
        elif not item.name.endswith(".py"):
            (out / item.name).write_bytes(item.read_bytes())
            written.append(out / item.name)
    return written
