"""Model references: ``NAME``, ``NAME:VERSION``, ``NAME@ALIAS`` — the same everywhere."""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelport.core.store.registry import MODEL_NAME as NAME
from modelport.errors import InvalidInputError

LATEST = "latest"
DEFAULT_ALIAS = "champion"
ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,99}")


@dataclass(frozen=True)
class Ref:
    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        return f"{self.name}@{self.alias}" if self.alias else self.name


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid model name {name!r} — use letters, digits, '_', '-' or '.', starting with "
            "a letter or digit")
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not ALIAS.fullmatch(alias) or alias.lower() == LATEST:
        raise InvalidInputError(
            f"invalid alias {alias!r} — use letters, digits, '_' or '-', starting with a letter "
            "('latest' is reserved)")
    return alias


def parse_ref(ref: str) -> Ref:
    """Parse a reference. A bare ``NAME`` means its ``champion`` when it has one, else
    its newest version; ``NAME@latest`` always means the newest."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInputError("empty model reference — use NAME, NAME:VERSION or NAME@ALIAS")
    if "@" in ref:
        name, _, alias = ref.partition("@")
        check_name(name)
        if alias.lower() == LATEST:
            return Ref(name, alias=LATEST)
        return Ref(name, alias=check_alias(alias))
    if ":" in ref:
        name, _, version = ref.partition(":")
        check_name(name)
        if not version.isdigit() or int(version) < 1:
            raise InvalidInputError(
                f"invalid version in {ref!r} — versions are whole numbers from 1, as in {name}:1")
        return Ref(name, version=int(version))
    return Ref(check_name(ref))
